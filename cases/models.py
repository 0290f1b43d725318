"""The case catalogue: batches of numbered candidate cases."""

from collections.abc import Iterable
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from casevote.freshness import ContentModel, ContentQuerySet

# Case numbers are shown with three digits (031); the catalogue never exceeds 999.
MAX_CASE_NUMBER = 999
PARAGRAPH_SEPARATOR = "\n\n"
# A batch's voting settings: the committee's to change, never the editors'.
VOTING_FIELDS = (
    "voting_opens_at",
    "voting_closes_at",
    "min_choices",
    "max_choices",
    "frequency",
    "results_visibility",
)


def split_paragraphs(text: str) -> list[str]:
    """Stored text keeps one paragraph per block; blank lines separate them."""
    return [p.strip() for p in text.replace("\r\n", "\n").split("\n") if p.strip()]


def format_number(number: int) -> str:
    return f"{number:03d}"


class BatchQuerySet(ContentQuerySet):
    def published(self) -> "BatchQuerySet":
        """The batches the public sees: a batch is a draft until the committee publishes it."""
        return self.filter(published_at__isnull=False)

    def featured(self, at: datetime) -> "Batch | None":
        """The batch the campaign page shows first (see `featured_batch`)."""
        return featured_batch(self.published(), at)


def featured_batch(batches: Iterable["Batch"], at: datetime) -> "Batch | None":
    """The published batch the campaign shows first: the newest whose vote is open at
    `at`; else the newest not archived; else the newest archived one."""
    published = [batch for batch in batches if batch.is_published]
    live = [batch for batch in published if not batch.is_archived]
    voting = [batch for batch in live if batch.is_open(at)]
    return max(voting or live or published, key=lambda batch: batch.number, default=None)


class Batch(ContentModel):
    class Frequency(models.TextChoices):
        DAILY = "daily", "每个自然日可投一次"
        ONCE = "once", "整个活动期间只能投一次"

    class ResultsVisibility(models.TextChoices):
        HIDDEN = "hidden", "组委会公布后可见"
        LIVE = "live", "实时可见"
        AFTER_CLOSE = "after_close", "投票结束后可见"

    number = models.PositiveSmallIntegerField(
        "批次", unique=True, validators=[MinValueValidator(1)]
    )
    name = models.CharField("名称", max_length=100)
    notice = models.TextField(
        "公告", blank=True, help_text="展示在活动首页的说明，段落之间空一行。"
    )
    first_number = models.PositiveSmallIntegerField(
        "首个案例编号", validators=[MinValueValidator(1), MaxValueValidator(MAX_CASE_NUMBER)]
    )
    last_number = models.PositiveSmallIntegerField(
        "末个案例编号", validators=[MinValueValidator(1), MaxValueValidator(MAX_CASE_NUMBER)]
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    # Set and cleared only by the committee's recorded decisions (ballots.publication).
    published_at = models.DateTimeField(
        "发布时间", null=True, blank=True, help_text="空：草稿，只有工作人员能看到（可预览）。"
    )
    archived_at = models.DateTimeField(
        "归档时间", null=True, blank=True, help_text="归档的批次仍在网站上，只是不再排在首页。"
    )

    # Voting settings, edited by the committee. A batch without dates is not open.
    voting_opens_at = models.DateTimeField("投票开始", null=True, blank=True)
    voting_closes_at = models.DateTimeField("投票截止", null=True, blank=True)
    min_choices = models.PositiveSmallIntegerField(
        "每票最少选择", default=1, validators=[MinValueValidator(1)]
    )
    max_choices = models.PositiveSmallIntegerField(
        "每票最多选择",
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="留空表示可选本批全部案例。",
    )
    frequency = models.CharField(
        "投票频率", max_length=10, choices=Frequency.choices, default=Frequency.DAILY
    )
    results_visibility = models.CharField(
        "结果可见性",
        max_length=15,
        choices=ResultsVisibility.choices,
        default=ResultsVisibility.HIDDEN,
    )
    results_published_at = models.DateTimeField(
        "结果公布时间", null=True, blank=True, help_text="组委会公布结果后，结果页显示得票。"
    )
    selected_published_at = models.DateTimeField(
        "入选名单公布时间", null=True, blank=True, help_text="公布后 /selected/ 显示入选名单。"
    )

    objects = BatchQuerySet.as_manager()

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
            models.CheckConstraint(
                condition=Q(voting_opens_at__isnull=True, voting_closes_at__isnull=True)
                | Q(voting_opens_at__lt=F("voting_closes_at")),
                name="batch_voting_window_ordered",
                violation_error_message="投票开始时间必须早于截止时间，且两者须同时填写或同时留空。",
            ),
            models.CheckConstraint(
                condition=Q(min_choices__gte=1)
                & (Q(max_choices__isnull=True) | Q(max_choices__gte=F("min_choices"))),
                name="batch_choice_limits_ordered",
                violation_error_message="每票最少选择数须至少为 1，且不大于最多选择数。",
            ),
        ]

    def __str__(self) -> str:
        return f"第{self.number}批：{self.name}"

    def get_absolute_url(self) -> str:
        return reverse("cases:batch", args=[self.number])

    @property
    def number_range_display(self) -> str:
        return f"{format_number(self.first_number)}–{format_number(self.last_number)}"

    @property
    def is_published(self) -> bool:
        return self.published_at is not None

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    def state_display(self) -> str:
        if not self.is_published:
            return "草稿"
        return "已归档" if self.is_archived else "已发布"

    def notice_paragraphs(self) -> list[str]:
        return split_paragraphs(self.notice)

    def contains_number(self, number: int) -> bool:
        return self.first_number <= number <= self.last_number

    def is_open(self, at: datetime) -> bool:
        """Open from `voting_opens_at` (inclusive) until `voting_closes_at` (exclusive),
        and only while published and not archived: a draft never takes ballots."""
        if not self.is_published or self.is_archived:
            return False
        if self.voting_opens_at is None or self.voting_closes_at is None:
            return False
        return self.voting_opens_at <= at < self.voting_closes_at

    def voting_phase(self, at: datetime) -> str:
        """Where the vote stands at `at`: draft, open, closed, upcoming or unscheduled."""
        if not self.is_published:
            return "draft"
        if self.is_open(at):
            return "open"
        if self.has_closed(at):
            return "closed"
        return "upcoming" if self.voting_opens_at is not None else "unscheduled"

    def has_closed(self, at: datetime) -> bool:
        return self.voting_closes_at is not None and at >= self.voting_closes_at

    def next_change(self, at: datetime) -> datetime | None:
        """The next moment after `at` when voting opens or closes (pages that depend on
        whether voting is open may be cached until then), or None."""
        edges = [edge for edge in (self.voting_opens_at, self.voting_closes_at) if edge]
        return min((edge for edge in edges if edge > at), default=None)

    def max_choices_for(self, votable: int) -> int:
        """The most cases one ballot may name when `votable` cases can be chosen: the
        committee's limit (blank means "every case of the batch"), never more than there are."""
        return min(self.max_choices or votable, votable)

    def results_visible(self, at: datetime) -> bool:
        if self.results_published_at is not None:
            return True
        if self.results_visibility == self.ResultsVisibility.LIVE:
            return True
        if self.results_visibility == self.ResultsVisibility.AFTER_CLOSE:
            return self.has_closed(at)
        return False

    def clean(self) -> None:
        super().clean()
        errors = {}
        if (self.voting_opens_at is None) != (self.voting_closes_at is None):
            errors["voting_closes_at"] = "投票开始和截止时间须同时填写或同时留空。"
        elif self.voting_opens_at and self.voting_opens_at >= self.voting_closes_at:
            errors["voting_closes_at"] = "截止时间必须晚于开始时间。"
        if self.max_choices is not None and self.max_choices < self.min_choices:
            errors["max_choices"] = "最多选择数不能小于最少选择数。"
        if self.pk:
            votable = self.cases.votable().count()
            field = "max_choices" if self.max_choices else "min_choices"
            if votable and getattr(self, field) > self.max_choices_for(votable):
                errors[field] = f"本批只有 {votable} 个可投票的案例，选择数不能超过它。"
        if self.first_number and self.last_number and self.first_number <= self.last_number:
            if problem := self.range_problem():
                errors["first_number"] = problem
        if errors:
            raise ValidationError(errors)

    def range_problem(self) -> str:
        """Why the range cannot be used: it leaves out cases the batch holds (they would
        vanish from its ballot with no decision), or overlaps another batch."""
        first, last = self.first_number, self.last_number
        if self.pk:
            outside = [
                format_number(number)
                for number in self.cases.exclude(number__range=(first, last))
                .order_by("number")
                .values_list("number", flat=True)
            ]
            if outside:
                return (
                    f"第{self.number}批已有案例 {'、'.join(outside)}，不在范围 "
                    f"{format_number(first)}–{format_number(last)} 内；范围必须包含本批的全部案例。"
                )
        overlapping = (
            Batch.objects.exclude(pk=self.pk)
            .filter(first_number__lte=last, last_number__gte=first)
            .order_by("number")
            .first()
        )
        if overlapping is not None:
            return (
                f"范围 {format_number(first)}–{format_number(last)} 与第{overlapping.number}批"
                f"（{overlapping.number_range_display}）重叠；案例编号在全部批次中唯一。"
            )
        return ""


class CaseQuerySet(ContentQuerySet):
    def votable(self) -> "CaseQuerySet":
        """The cases a ballot may name: every one not disqualified."""
        return self.exclude(status=Case.Status.DISQUALIFIED)  # as Case.is_votable

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


class Case(ContentModel):
    class Status(models.TextChoices):
        CANDIDATE = "candidate", "候选"
        DISQUALIFIED = "disqualified", "已取消资格"
        SELECTED = "selected", "入选"

    number = models.PositiveSmallIntegerField(
        "编号", unique=True, validators=[MinValueValidator(1), MaxValueValidator(MAX_CASE_NUMBER)]
    )
    batch = models.ForeignKey(
        Batch, on_delete=models.PROTECT, related_name="cases", verbose_name="批次"
    )
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

    @property
    def is_votable(self) -> bool:
        return self.status != self.Status.DISQUALIFIED

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
        errors = self.published_batch_problems()
        if self.batch_id and self.number and not self.batch.contains_number(self.number):
            errors.setdefault(
                "number",
                f"编号 {self.display_number} 不在第{self.batch.number}批的范围"
                f"（{self.batch.number_range_display}）内。",
            )
        if errors:
            raise ValidationError(errors)

    def published_batch_problems(self) -> dict[str, str]:
        """Once a batch is published its cases are the public's: no case joins or leaves
        it, and none changes number (its /cases/NNN/ address is shared)."""
        if not self.batch_id:
            return {}
        stored = Case.objects.filter(pk=self.pk).select_related("batch").first()
        if stored is None:
            if self.batch.is_published:
                return {"batch": f"第{self.batch.number}批已经发布，不能再增加案例。"}
            return {}
        errors = {}
        if stored.batch_id != self.batch_id:
            for batch in (stored.batch, self.batch):
                if batch.is_published:
                    errors["batch"] = (
                        f"第{batch.number}批已经发布，案例 {stored.display_number} "
                        f"不能移入或移出该批次。"
                    )
                    break
        if stored.number != self.number and stored.batch.is_published:
            errors["number"] = (
                f"第{stored.batch.number}批已经发布，案例 {stored.display_number} 不能改编号"
                f"（已公开的链接 /cases/{stored.display_number}/ 会失效）。"
            )
        return errors
