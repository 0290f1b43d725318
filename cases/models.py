"""The case catalogue: batches of numbered candidate cases."""

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

# Case numbers are shown with three digits (031); the catalogue never exceeds 999.
MAX_CASE_NUMBER = 999
PARAGRAPH_SEPARATOR = "\n\n"


def split_paragraphs(text: str) -> list[str]:
    """Stored text keeps one paragraph per block; blank lines separate them."""
    return [p.strip() for p in text.replace("\r\n", "\n").split("\n") if p.strip()]


def format_number(number: int) -> str:
    return f"{number:03d}"


class BatchQuerySet(models.QuerySet):
    def current(self) -> "Batch | None":
        """The batch the campaign page shows: the newest one that has cases."""
        return self.filter(cases__isnull=False).order_by("-number").first()


class Batch(models.Model):
    number = models.PositiveSmallIntegerField("批次", unique=True, validators=[MinValueValidator(1)])
    name = models.CharField("名称", max_length=100)
    notice = models.TextField("公告", blank=True, help_text="展示在活动首页的说明，段落之间空一行。")
    first_number = models.PositiveSmallIntegerField(
        "首个案例编号", validators=[MinValueValidator(1), MaxValueValidator(MAX_CASE_NUMBER)]
    )
    last_number = models.PositiveSmallIntegerField(
        "末个案例编号", validators=[MinValueValidator(1), MaxValueValidator(MAX_CASE_NUMBER)]
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    objects = BatchQuerySet.as_manager()
    # Voting settings (window, min/max, frequency, results visibility) arrive
    # with the ballots app; they belong on this model.

    class Meta:
        ordering = ["number"]
        verbose_name = "批次"
        verbose_name_plural = "批次"
        constraints = [
            models.CheckConstraint(
                condition=Q(first_number__lte=F("last_number")),
                name="batch_number_range_ordered",
                violation_error_message="首个案例编号不能大于末个案例编号。",
            ),
            models.CheckConstraint(
                condition=Q(first_number__gte=1) & Q(last_number__lte=MAX_CASE_NUMBER),
                name="batch_number_range_bounds",
                violation_error_message=f"案例编号须在 1 到 {MAX_CASE_NUMBER} 之间。",
            ),
        ]

    def __str__(self) -> str:
        return f"第{self.number}批：{self.name}"

    @property
    def number_range_display(self) -> str:
        return f"{format_number(self.first_number)}–{format_number(self.last_number)}"

    def notice_paragraphs(self) -> list[str]:
        return split_paragraphs(self.notice)

    def contains_number(self, number: int) -> bool:
        return self.first_number <= number <= self.last_number


class CaseQuerySet(models.QuerySet):
    def in_province(self, province: str) -> "CaseQuerySet":
        return self.filter(province=province)

    def matching(self, text: str) -> "CaseQuerySet":
        """Plain substring search in title and body: Chinese has no spaces to split on."""
        return self.filter(Q(title__icontains=text) | Q(body__icontains=text))

    def provinces(self) -> list[str]:
        """Distinct provinces in catalogue order (by each province's first case)."""
        rows = (
            self.exclude(province="")
            .values("province")
            .annotate(first=models.Min("number"))
            .order_by("first")
        )
        return [row["province"] for row in rows]


class Case(models.Model):
    class Status(models.TextChoices):
        CANDIDATE = "candidate", "候选"
        DISQUALIFIED = "disqualified", "已取消资格"
        SELECTED = "selected", "入选"

    number = models.PositiveSmallIntegerField(
        "编号", unique=True, validators=[MinValueValidator(1), MaxValueValidator(MAX_CASE_NUMBER)]
    )
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="cases", verbose_name="批次")
    title = models.CharField("名称", max_length=120)
    province = models.CharField("省份", max_length=20, blank=True, db_index=True)
    body = models.TextField("案例介绍", help_text="段落之间空一行。")
    status = models.CharField(
        "状态", max_length=20, choices=Status.choices, default=Status.CANDIDATE, db_index=True
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    objects = CaseQuerySet.as_manager()

    class Meta:
        ordering = ["number"]
        verbose_name = "案例"
        verbose_name_plural = "案例"

    def __str__(self) -> str:
        return f"{self.display_number} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("cases:detail", args=[self.display_number])

    @property
    def display_number(self) -> str:
        return format_number(self.number)

    def paragraphs(self) -> list[str]:
        return split_paragraphs(self.body)

    def excerpt(self) -> str:
        """The first paragraph; the template clamps it to two lines."""
        paragraphs = self.paragraphs()
        return paragraphs[0] if paragraphs else ""

    def neighbours(self) -> tuple["Case | None", "Case | None"]:
        """The previous and next case of the same batch, by number."""
        siblings = Case.objects.filter(batch_id=self.batch_id).only("number", "title")
        previous = siblings.filter(number__lt=self.number).order_by("-number").first()
        following = siblings.filter(number__gt=self.number).order_by("number").first()
        return previous, following

    def clean(self) -> None:
        super().clean()
        if self.batch_id and self.number and not self.batch.contains_number(self.number):
            raise ValidationError(
                {
                    "number": f"编号 {self.display_number} 不在第{self.batch.number}批的范围"
                    f"（{self.batch.number_range_display}）内。"
                }
            )
