"""Followers, ballots and their per-case choices.

Ballots are evidence: they are never deleted (PROTECT everywhere) and a bad one is
voided by a recorded decision, not removed. The one-ballot-per-period rule is a
unique constraint so it holds when requests race.
"""

import random
import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse

from cases.models import Batch, Case, split_paragraphs
from casevote.freshness import ContentModel, ContentQuerySet

# Receipt codes: no 0/O/1/I/L, so they survive being read aloud or copied by hand.
RECEIPT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
RECEIPT_LENGTH = 10
CAMPAIGN_PERIOD = "campaign"


def new_receipt_code(rng: random.Random | None = None) -> str:
    """A receipt code. The site draws it from `secrets` (a receipt must not be guessable);
    the vote simulator passes a seeded `random.Random` so the same seed gives the same
    poll, receipts included."""
    choose = secrets.choice if rng is None else rng.choice
    return "".join(choose(RECEIPT_ALPHABET) for _ in range(RECEIPT_LENGTH))


class Follower(models.Model):
    """Someone who followed the official account; the identity a ballot belongs to."""

    backend = models.CharField("关注方式", max_length=20, default="local")
    key = models.CharField("标识", max_length=64, help_text="本地关注：随机标识；微信：openid。")
    # When they followed, as first seen (WeChat: `subscribe_time`); ballots' evidence.
    followed_at = models.DateTimeField("关注时间")
    scene = models.CharField("二维码场景", max_length=64, blank=True)
    # WeChat only: `subscribe_time` as last reported (later than followed_at after a
    # re-follow), and when a check last found them no longer following.
    subscribed_at = models.DateTimeField("最近关注时间", null=True, blank=True)
    unfollowed_at = models.DateTimeField("发现取消关注时间", null=True, blank=True)
    created_at = models.DateTimeField("记录时间", auto_now_add=True)
    # The address (IPv6: /64) the gate created this follower from: the hourly budget of
    # new followers per address counts it (ballots.follow.budget). Empty for followers
    # WeChat's event push created, and for those from before it was recorded.
    origin_network = models.CharField("关注时 IP（IPv6 为 /64）", max_length=50, blank=True)

    class Meta:
        verbose_name = "关注者"
        verbose_name_plural = "关注者"
        constraints = [
            models.UniqueConstraint(fields=["backend", "key"], name="follower_unique_key"),
        ]
        indexes = [
            models.Index(fields=["origin_network", "created_at"], name="follower_origin_time"),
        ]

    def __str__(self) -> str:
        return f"{self.backend}:{self.key[:8]}…"


class UsedFollowToken(models.Model):
    """A follow link's nonce, once spent. The primary key makes a link work once.

    The WeChat gate spends its `state` ("ws…") and a hash of the authorisation `code`
    ("wc…") here before asking WeChat anything, so the follower is filled in later and
    stays empty when the round trip fails.
    """

    nonce = models.CharField(max_length=32, primary_key=True)
    used_at = models.DateTimeField()
    follower = models.ForeignKey(
        Follower, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )

    class Meta:
        verbose_name = "已使用的关注链接"
        verbose_name_plural = "已使用的关注链接"

    def __str__(self) -> str:
        return self.nonce


class FollowEvent(models.Model):
    """A follow, unfollow or scan that the official account pushed to /wechat/events/.

    The evidence behind followers' follow and unfollow times; never changed or deleted.
    WeChat retries a push it thinks failed, so one event (openid, kind, WeChat's
    CreateTime) is one row: the unique constraint drops the retries.
    """

    class Kind(models.TextChoices):
        SUBSCRIBE = "subscribe", "关注"
        UNSUBSCRIBE = "unsubscribe", "取消关注"
        SCAN = "scan", "已关注者扫码"

    openid = models.CharField("openid", max_length=64)
    kind = models.CharField("事件", max_length=12, choices=Kind.choices)
    created_at = models.DateTimeField("事件时间", help_text="微信的 CreateTime。")
    event_key = models.CharField(
        "二维码参数", max_length=128, blank=True, help_text="微信的 EventKey（扫带参数二维码时）。"
    )
    received_at = models.DateTimeField("收到时间")

    class Meta:
        verbose_name = "公众号关注事件"
        verbose_name_plural = "公众号关注事件"
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["openid", "kind", "created_at"], name="follow_event_unique"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_kind_display()} · {self.openid[:8]}… · {self.created_at:%Y-%m-%d %H:%M:%S}"
        )


class BallotQuerySet(ContentQuerySet):
    """A ballot's status is public content (it counts or not), so bulk writes here renew
    the content token; casting one does not (new ballots show within the count's period)."""

    def valid(self) -> "BallotQuerySet":
        return self.filter(status=Ballot.Status.VALID)


class Ballot(models.Model):
    class Status(models.TextChoices):
        VALID = "valid", "有效"
        VOID = "void", "已作废"

    # No index of their own: the one-ballot-per-period constraint starts with
    # follower, the (batch, status) index with batch (bench/README.md, "The ballot
    # table's indexes").
    follower = models.ForeignKey(
        Follower,
        on_delete=models.PROTECT,
        related_name="ballots",
        verbose_name="关注者",
        db_index=False,
    )
    batch = models.ForeignKey(
        Batch, on_delete=models.PROTECT, related_name="ballots", verbose_name="批次", db_index=False
    )
    # "2026-11-26" when the batch allows a ballot a day, "campaign" when only one.
    period = models.CharField("投票周期", max_length=10)
    cast_at = models.DateTimeField("投票时间", db_index=True)
    cast_day = models.DateField("投票日期（北京时间）")
    form_served_at = models.DateTimeField("表单发出时间")
    form_nonce = models.CharField("表单令牌", max_length=32, unique=True)
    ip_address = models.GenericIPAddressField("IP 地址", null=True, blank=True)
    # The address's network, for budgets and evidence: the IPv4 address itself or
    # the IPv6 /64; and the IPv4 /24 (or IPv6 /48).
    ip_network = models.CharField("IP（IPv6 为 /64）", max_length=50, blank=True)
    ip_subnet = models.CharField("网段（/24）", max_length=50, blank=True)
    user_agent = models.CharField("浏览器标识", max_length=500, blank=True)
    device_id = models.CharField("设备标识", max_length=40, blank=True, db_index=True)
    receipt = models.CharField("回执码", max_length=RECEIPT_LENGTH, unique=True)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.VALID)
    void_reason_public = models.CharField(
        "作废原因（公开）", max_length=200, blank=True, help_text="回执页面向投票人显示的原因。"
    )
    cases = models.ManyToManyField(Case, through="Choice", related_name="ballots")

    objects = BallotQuerySet.as_manager()

    class Meta:
        verbose_name = "选票"
        verbose_name_plural = "选票"
        ordering = ["-cast_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["follower", "batch", "period"],
                name="ballot_one_per_follower_batch_period",
                violation_error_message="该关注者在本周期已经投过票。",
            ),
            models.CheckConstraint(
                condition=Q(form_served_at__lte=models.F("cast_at")),
                name="ballot_form_served_before_cast",
            ),
        ]
        indexes = [
            models.Index(fields=["ip_network", "cast_at"], name="ballot_ip_network_time"),
            models.Index(fields=["ip_subnet", "cast_at"], name="ballot_ip_subnet_time"),
            models.Index(fields=["batch", "status"], name="ballot_batch_status"),
        ]

    def __str__(self) -> str:
        return f"选票 {self.receipt}"

    def get_absolute_url(self) -> str:
        return reverse("ballots:receipt", args=[self.receipt])

    @property
    def is_counted(self) -> bool:
        return self.status == self.Status.VALID


class Choice(models.Model):
    """One case on one ballot: the row tallies count."""

    ballot = models.ForeignKey(Ballot, on_delete=models.PROTECT, related_name="choices")
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="choices")

    class Meta:
        verbose_name = "所选案例"
        verbose_name_plural = "所选案例"
        constraints = [
            models.UniqueConstraint(fields=["ballot", "case"], name="choice_once_per_ballot"),
        ]

    def __str__(self) -> str:
        return f"{self.ballot.receipt} → {self.case.display_number}"


class Decision(models.Model):
    """A committee decision: the audit trail. Append-only — never edited or deleted.

    Voiding and restoring ballots, disqualifying and reinstating cases, selecting
    cases for the final list, publishing, opening, closing and archiving batches are
    all decisions; undoing one is a new decision. The rows they changed are linked, so
    every change has its who/when/why. Taken in the admin, `decided_by` is the member;
    taken with a management command on the server, `decided_via` names the command and
    the system account that ran it.
    """

    class Kind(models.TextChoices):
        VOID = "void", "作废选票"
        RESTORE = "restore", "恢复选票"
        DISQUALIFY = "disqualify", "取消推选资格"
        REINSTATE = "reinstate", "恢复推选资格"
        SELECT = "select", "确定入选"
        UNSELECT = "unselect", "撤销入选"
        PUBLISH_RESULTS = "publish_results", "公布投票结果"
        PUBLISH_SELECTED = "publish_selected", "公布入选名单"
        PUBLISH_BATCH = "publish_batch", "发布批次"
        WITHDRAW_BATCH = "withdraw_batch", "撤回发布"
        OPEN_VOTING = "open_voting", "开放投票"
        CLOSE_VOTING = "close_voting", "结束投票"
        CHANGE_RULES = "change_rules", "修改投票规则"
        ARCHIVE = "archive", "归档批次"
        UNARCHIVE = "unarchive", "取消归档"

    kind = models.CharField("决定", max_length=20, choices=Kind.choices)
    batch = models.ForeignKey(
        Batch, on_delete=models.PROTECT, related_name="decisions", verbose_name="批次"
    )
    case = models.ForeignKey(
        Case,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="decisions",
        verbose_name="案例",
    )
    reason = models.TextField("理由（内部）")
    public_reason = models.CharField("公开说明", max_length=200, blank=True)
    scope = models.JSONField("范围", default=dict, blank=True)
    evidence = models.JSONField("证据快照", default=dict, blank=True)
    detector_version = models.CharField("监测程序版本", max_length=20, blank=True)
    ballots = models.ManyToManyField(
        Ballot, through="DecisionBallot", related_name="decisions", verbose_name="涉及选票"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="casevote_decisions",
        verbose_name="决定人",
    )
    decided_via = models.CharField(
        "途径", max_length=100, blank=True, help_text="空：管理后台。命令行：命令和系统账号。"
    )
    decided_at = models.DateTimeField("时间", db_index=True)

    class Meta:
        verbose_name = "组委会决定"
        verbose_name_plural = "组委会决定（审计记录）"
        ordering = ["-decided_at", "-pk"]
        permissions = [
            ("view_evidence", "查看刷票监测证据"),
            ("view_votes", "在结果公布前查看得票"),
            ("void_ballots", "作废和恢复选票"),
            ("decide_cases", "取消和恢复案例资格"),
            ("select_cases", "评审打分并确定入选"),
            ("publish", "公布投票结果和入选名单"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(decided_by__isnull=False) | ~Q(decided_via=""),
                name="decision_has_a_maker",
                violation_error_message="决定必须记录决定人或命令行途径。",
            ),
        ]

    def __str__(self) -> str:
        target = f" {self.case.display_number}" if self.case_id else ""
        return f"{self.get_kind_display()}{target}（{self.decided_at:%Y-%m-%d %H:%M}）"

    @property
    def maker_display(self) -> str:
        return str(self.decided_by) if self.decided_by_id else f"命令行：{self.decided_via}"


class DecisionBallot(models.Model):
    """A ballot a void/restore decision changed."""

    decision = models.ForeignKey(Decision, on_delete=models.PROTECT, related_name="+")
    ballot = models.ForeignKey(Ballot, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = "决定涉及的选票"
        verbose_name_plural = "决定涉及的选票"
        constraints = [
            models.UniqueConstraint(fields=["decision", "ballot"], name="decision_ballot_once"),
        ]

    def __str__(self) -> str:
        return f"{self.decision_id} → {self.ballot_id}"


class AnnouncementQuerySet(ContentQuerySet):
    def public(self) -> "AnnouncementQuerySet":
        """Announcements of published batches: a draft's are for staff only."""
        return self.filter(batch__published_at__isnull=False)


class Announcement(ContentModel):
    """A public announcement of the committee, published with a decision."""

    batch = models.ForeignKey(
        Batch, on_delete=models.PROTECT, related_name="announcements", verbose_name="批次"
    )
    case = models.ForeignKey(
        Case,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="announcements",
        verbose_name="案例",
    )
    decision = models.OneToOneField(
        Decision, on_delete=models.PROTECT, related_name="announcement", verbose_name="决定"
    )
    title = models.CharField("标题", max_length=100)
    body = models.TextField("正文")
    published_at = models.DateTimeField("发布时间", db_index=True)

    objects = AnnouncementQuerySet.as_manager()

    class Meta:
        verbose_name = "公告"
        verbose_name_plural = "公告"
        ordering = ["-published_at", "-pk"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("ballots:announcement", args=[self.pk])

    def paragraphs(self) -> list[str]:
        return split_paragraphs(self.body)


class ExpertReview(models.Model):
    """The expert panel's score and notes for a case: the committee's eyes only."""

    case = models.OneToOneField(
        Case, on_delete=models.PROTECT, related_name="expert_review", verbose_name="案例"
    )
    score = models.DecimalField(
        "专家评审分",
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    notes = models.TextField("评审意见", blank=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "专家评审"
        verbose_name_plural = "专家评审"
        constraints = [
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__gte=0, score__lte=100),
                name="expert_score_0_to_100",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case} 评审"


class DetectionRun(models.Model):
    """One run of the brushing detector over a batch's valid ballots, kept so the
    monitoring page can show it without re-reading every ballot (at a million
    ballots a run takes the better part of a minute and a gigabyte of memory)."""

    batch = models.ForeignKey(
        Batch, on_delete=models.PROTECT, related_name="detection_runs", verbose_name="批次"
    )
    detector_version = models.CharField("监测程序版本", max_length=20)
    started_at = models.DateTimeField("开始时间", db_index=True)
    seconds = models.FloatField("用时（秒）")
    ballots = models.PositiveIntegerField("检测的有效选票")
    newest_ballot_id = models.BigIntegerField("最新选票编号", default=0)
    newest_decision_id = models.BigIntegerField("最新决定编号", default=0)
    reports = models.JSONField("检测报告", default=list)

    class Meta:
        verbose_name = "刷票检测记录"
        verbose_name_plural = "刷票检测记录"
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.batch} · {self.started_at:%Y-%m-%d %H:%M}（{self.ballots} 张选票）"


class Alert(models.Model):
    """The committee told that a case's verdict rose (ballots.alerts): one row per case
    and verdict reached in a batch, so each state is told once even if two runs race;
    each channel keeps its own delivery state so a failing one is retried alone."""

    class Delivery(models.TextChoices):
        OFF = "off", "未配置"
        PENDING = "pending", "待发送"
        SENT = "sent", "已发送"
        GAVE_UP = "gave_up", "已放弃"

    batch = models.ForeignKey(
        Batch, on_delete=models.PROTECT, related_name="alerts", verbose_name="批次"
    )
    case_number = models.PositiveSmallIntegerField("案例编号")
    verdict = models.CharField("新结论", max_length=20)
    previous_verdict = models.CharField("原结论", max_length=20)
    run = models.ForeignKey(
        DetectionRun, on_delete=models.PROTECT, related_name="alerts", verbose_name="检测记录"
    )
    reasons = models.JSONField("主要理由", default=list)
    created_at = models.DateTimeField("提醒时间", db_index=True)
    email_state = models.CharField(
        "邮件", max_length=10, choices=Delivery.choices, default=Delivery.OFF
    )
    email_attempts = models.PositiveSmallIntegerField("邮件尝试次数", default=0)
    email_error = models.TextField("邮件最近错误", blank=True)
    wecom_state = models.CharField(
        "企业微信", max_length=10, choices=Delivery.choices, default=Delivery.OFF
    )
    wecom_attempts = models.PositiveSmallIntegerField("企业微信尝试次数", default=0)
    wecom_error = models.TextField("企业微信最近错误", blank=True)

    class Meta:
        verbose_name = "刷票提醒"
        verbose_name_plural = "刷票提醒"
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["batch", "case_number", "verdict"], name="alert_once_per_case_verdict"
            )
        ]

    def __str__(self) -> str:
        return f"{self.batch} · 案例{self.case_number:03d} → {self.verdict}"


class Anonymisation(models.Model):
    """A run of `anonymise_ballots` on a batch: when personal data was stripped, and how much."""

    batch = models.ForeignKey(
        Batch, on_delete=models.PROTECT, related_name="anonymisations", verbose_name="批次"
    )
    done_at = models.DateTimeField("匿名化时间")
    ballots = models.PositiveIntegerField("匿名化的选票", null=True, help_text="空：未记录。")
    followers = models.PositiveIntegerField("匿名化的关注者", null=True, help_text="空：未记录。")

    class Meta:
        verbose_name = "个人数据匿名化记录"
        verbose_name_plural = "个人数据匿名化记录"
        ordering = ["-done_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.batch} · {self.done_at:%Y-%m-%d %H:%M}"
