"""Reports to the committee: brushing leads, agencies using the organisers' name.

A report is evidence: never deleted. Its status changes only by a `ReportDecision`
(who, when, why), append-only like the committee's other decisions. The reporter's
contact details, address and screenshots are personal data: `anonymise_reports`
removes them after retention, and the row and its decisions stay, marked anonymised.
"""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

from cases.models import Case, split_paragraphs
from casevote.freshness import ContentModel

# Status codes: no 0/O/1/I/L, read aloud in groups of four ("K7QM-3XRT-…").
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 16
CODE_GROUP = 4


def new_code() -> str:
    """16 characters of a 31-letter alphabet: about 79 bits, drawn from `secrets`."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def grouped(code: str) -> str:
    return "-".join(code[i : i + CODE_GROUP] for i in range(0, len(code), CODE_GROUP))


class Report(models.Model):
    class Kind(models.TextChoices):
        BRUSHING = "brushing", "刷票线索（某个案例）"
        IMPERSONATION = "impersonation", "有机构或个人冒用主办单位、组委会名义"
        OTHER = "other", "其他问题"

    class Status(models.TextChoices):
        RECEIVED = "received", "已收到"
        REVIEWING = "reviewing", "正在核查"
        CLOSED = "closed", "已办结"

    code = models.CharField("查询码", max_length=CODE_LENGTH, unique=True, editable=False)
    kind = models.CharField("类型", max_length=20, choices=Kind.choices)
    case = models.ForeignKey(
        Case,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reports",
        verbose_name="涉及案例",
    )
    description = models.TextField("经过")
    happened_on = models.DateField("发生日期")
    contact_name = models.CharField("联系人", max_length=50, blank=True)
    contact_details = models.CharField("联系方式", max_length=100, blank=True)
    status = models.CharField(
        "状态", max_length=12, choices=Status.choices, default=Status.RECEIVED, db_index=True
    )
    filed_at = models.DateTimeField("提交时间", db_index=True)
    status_changed_at = models.DateTimeField("状态更新时间")
    # The signed form's nonce: a form sent twice (a double tap, a retry) files one report.
    form_nonce = models.CharField("表单令牌", max_length=32, unique=True, editable=False)
    # For the hourly limits only (IPv6: /64, and the /24 or /48); removed by retention.
    ip_network = models.CharField("IP（IPv6 为 /64）", max_length=50, blank=True)
    ip_subnet = models.CharField("网段（/24）", max_length=50, blank=True)
    anonymised_at = models.DateTimeField("个人数据删除时间", null=True, blank=True)

    class Meta:
        verbose_name = "举报"
        verbose_name_plural = "举报"
        ordering = ["-filed_at", "-pk"]
        permissions = [("review_reports", "审阅举报、截图和举报人联系方式")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status_changed_at__gte=models.F("filed_at")),
                name="report_status_after_filing",
            ),
        ]
        indexes = [
            models.Index(fields=["ip_network", "filed_at"], name="report_ip_network_time"),
            models.Index(fields=["ip_subnet", "filed_at"], name="report_ip_subnet_time"),
        ]

    def __str__(self) -> str:
        return f"举报 {grouped(self.code)}"

    @property
    def code_display(self) -> str:
        return grouped(self.code)


def screenshot_path(report_id: int, number: int, extension: str) -> str:
    """Where a screenshot is stored: random, so a name tells nothing and cannot be guessed."""
    return f"reports/{report_id}/{number}-{secrets.token_hex(12)}{extension}"


class Screenshot(models.Model):
    """A reporter's screenshot, as re-encoded by `reports.screenshots` (no EXIF, no GPS),
    in the private "reports" storage. After retention the file is removed and `name`
    emptied; the row stays so the report still says it had one."""

    report = models.ForeignKey(
        Report, on_delete=models.PROTECT, related_name="screenshots", verbose_name="举报"
    )
    number = models.PositiveSmallIntegerField("序号")
    name = models.CharField("存储名", max_length=200, blank=True)
    content_type = models.CharField("类型", max_length=20)
    width = models.PositiveIntegerField("宽")
    height = models.PositiveIntegerField("高")
    size = models.PositiveIntegerField("字节")
    removed_at = models.DateTimeField("删除时间", null=True, blank=True)

    class Meta:
        verbose_name = "截图"
        verbose_name_plural = "截图"
        ordering = ["report", "number"]
        constraints = [
            models.UniqueConstraint(fields=["report", "number"], name="screenshot_once"),
        ]

    def __str__(self) -> str:
        return f"{self.report} 截图 {self.number}"


class ReportDecision(models.Model):
    """A committee member's status change or note on a report. Append-only."""

    report = models.ForeignKey(
        Report, on_delete=models.PROTECT, related_name="decisions", verbose_name="举报"
    )
    from_status = models.CharField("原状态", max_length=12, choices=Report.Status.choices)
    to_status = models.CharField("新状态", max_length=12, choices=Report.Status.choices)
    note = models.TextField("处理意见（内部）")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="report_decisions",
        verbose_name="决定人",
    )
    decided_at = models.DateTimeField("时间", db_index=True)

    class Meta:
        verbose_name = "举报处理记录"
        verbose_name_plural = "举报处理记录（审计记录）"
        ordering = ["-decided_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.report} · {self.get_to_status_display()}（{self.decided_at:%Y-%m-%d %H:%M}）"


class FraudNotice(ContentModel):
    """The committee's 防骗提示. Each edit is a new row (the history); the newest is shown.
    Saving one renews the content token, so cached campaign pages show it at once."""

    title = models.CharField("标题", max_length=60)
    body = models.TextField("正文", help_text="空行分段。")
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="编辑人",
    )
    edited_at = models.DateTimeField("时间", db_index=True)

    class Meta:
        verbose_name = "防骗提示"
        verbose_name_plural = "防骗提示（每次修改都保留）"
        ordering = ["-edited_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.title}（{self.edited_at:%Y-%m-%d %H:%M}）"

    def paragraphs(self) -> list[str]:
        return split_paragraphs(self.body)
