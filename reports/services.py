"""Filing a report and the committee's decisions on it: every rule, one place each.

`file_report` stores a report with its screenshots or raises `ReportRefused` (with a
message for the reporter) having stored nothing. The form is signed and timed like the
ballot form (a honeypot, a minimum time on the page, spent once: a double tap files one
report), and one address may file only a few reports an hour.
"""

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.cache import caches
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import IntegrityError, transaction
from django.utils import timezone

from ballots import locks, network
from ballots.errors import DAMAGED_FORM_MESSAGE
from ballots.tokens import NONCE_PATTERN, new_nonce
from cases.models import Case
from casevote import sharedcache
from casevote.errors import Refusal
from casevote.sharedcache import SharedCacheUnavailable
from reports.models import (
    CODE_ALPHABET,
    CODE_LENGTH,
    Report,
    ReportDecision,
    Screenshot,
    new_code,
    screenshot_path,
)
from reports.screenshots import CleanImage

FORM_SALT = "casevote.report-form"
WINDOW = timedelta(hours=1)
NOTE_MIN_LENGTH = 4
TOO_MANY = "这个网络提交的举报太多了，请过一个小时再试。情况紧急可直接联系组委会。"
TOO_MANY_LOOKUPS = "查询太频繁了，请过一会儿再试。"


class ReportRefused(Refusal):
    """A report that was not filed, or a decision not taken; nothing was stored."""


class TooManyReports(ReportRefused):
    status_code = 429


def storage():
    """The private storage of screenshots (STORAGES["reports"]), looked up when used."""
    return storages["reports"]


# --- The form's signed token ----------------------------------------------------------


def make_form_token(now: datetime | None = None) -> str:
    now = now or timezone.now()
    return signing.dumps({"n": new_nonce(), "t": now.timestamp()}, salt=FORM_SALT)


def read_form_token(token: str, now: datetime) -> tuple[str, datetime]:
    """The form's nonce and when it was served, or ReportRefused."""
    try:
        payload = signing.loads(token or "", salt=FORM_SALT)
        nonce = str(payload["n"])
        served_at = datetime.fromtimestamp(float(payload["t"]), tz=UTC)
    except (signing.BadSignature, KeyError, TypeError, ValueError, OverflowError, OSError):
        raise ReportRefused(DAMAGED_FORM_MESSAGE) from None
    if not NONCE_PATTERN.fullmatch(nonce) or served_at > now:
        raise ReportRefused(DAMAGED_FORM_MESSAGE)
    if now - served_at > timedelta(seconds=settings.CASEVOTE_FORM_MAX_AGE):
        raise ReportRefused(
            "页面停留时间过长，表单已过期。您填写的内容还在，请重新选择截图后再提交。"
        )
    if now - served_at < timedelta(seconds=settings.CASEVOTE_MIN_DWELL_SECONDS):
        raise ReportRefused("提交太快了。请检查填写的内容后再提交。")
    return nonce, served_at


# --- Filing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportRequest:
    ip: network.IPAddress | None
    form_token: str
    honeypot: str = ""

    @classmethod
    def from_request(cls, request, form_token: str, honeypot: str) -> "ReportRequest":
        return cls(network.client_address(request.META), form_token, honeypot)


@dataclass(frozen=True)
class ReportContent:
    kind: str
    case: Case | None
    description: str
    happened_on: date
    contact_name: str = ""
    contact_details: str = ""
    screenshots: tuple[CleanImage, ...] = ()


def check_budget(ip: network.IPAddress | None, now: datetime) -> tuple[str, str]:
    """The address's network and /24 to record; TooManyReports over an hourly limit.
    Call inside the filing transaction (reports from one /24 take turns first)."""
    ip_network, ip_subnet = network.address_network(ip), network.address_subnet(ip)
    if not ip_network:
        return "", ""
    locks.take_turns("report", ip_subnet)
    recent = Report.objects.filter(filed_at__gte=now - WINDOW)
    if recent.filter(ip_network=ip_network).count() >= settings.CASEVOTE_REPORTS_PER_ADDRESS_HOURLY:
        raise TooManyReports(TOO_MANY)
    if recent.filter(ip_subnet=ip_subnet).count() >= settings.CASEVOTE_REPORTS_PER_SUBNET_HOURLY:
        raise TooManyReports(TOO_MANY)
    return ip_network, ip_subnet


def file_report(content: ReportContent, request_meta: ReportRequest, now: datetime) -> Report:
    """Store the report and its screenshots, or raise ReportRefused having stored nothing."""
    if request_meta.honeypot:
        raise ReportRefused(DAMAGED_FORM_MESSAGE)
    nonce, _ = read_form_token(request_meta.form_token, now)
    saved: list[str] = []
    try:
        with transaction.atomic():
            ip_network, ip_subnet = check_budget(request_meta.ip, now)
            try:
                with transaction.atomic():
                    report = Report.objects.create(
                        code=new_code(),
                        kind=content.kind,
                        case=content.case,
                        description=content.description,
                        happened_on=content.happened_on,
                        contact_name=content.contact_name,
                        contact_details=content.contact_details,
                        filed_at=now,
                        status_changed_at=now,
                        form_nonce=nonce,
                        ip_network=ip_network,
                        ip_subnet=ip_subnet,
                    )
            except IntegrityError:
                if Report.objects.filter(form_nonce=nonce).exists():
                    raise ReportRefused(
                        "这份举报已经提交过了（同一个表单只能提交一次）。"
                        "如需补充，请重新打开举报页面填写。",
                        status_code=409,
                    ) from None
                raise
            for number, image in enumerate(content.screenshots, start=1):
                name = storage().save(
                    screenshot_path(report.pk, number, image.extension),
                    ContentFile(image.content),
                )
                saved.append(name)
                Screenshot.objects.create(
                    report=report,
                    number=number,
                    name=name,
                    content_type=image.content_type,
                    width=image.width,
                    height=image.height,
                    size=len(image.content),
                )
    except BaseException:
        for name in saved:  # the transaction stored nothing: neither may the storage
            storage().delete(name)
        raise
    return report


# --- Looking a report up by its code ------------------------------------------------


def normalise_code(text: str) -> str | None:
    """A code as typed or read aloud: any case, spaces or dashes, full-width letters."""
    cleaned = re.sub(r"[\s\-‐－—_]", "", unicodedata.normalize("NFKC", text or "")).upper()
    if len(cleaned) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in cleaned):
        return None
    return cleaned


def check_lookup_budget(ip: network.IPAddress | None, now: datetime) -> None:
    """Look-ups per address per hour, counted in the shared cache (every worker of every
    node): a guesser cannot try codes at speed. While the shared cache does not answer,
    each worker counts its own. Raises TooManyReports over the limit."""
    key = f"casevote:report-lookups:{network.address_network(ip)}:{int(now.timestamp()) // 3600}"
    window = int(WINDOW.total_seconds())
    try:
        count = sharedcache.count(key, window)
    except SharedCacheUnavailable:
        caches["default"].add(key, 0, window)
        count = caches["default"].incr(key)
    if count > settings.CASEVOTE_REPORT_LOOKUPS_PER_ADDRESS_HOURLY:
        raise TooManyReports(TOO_MANY_LOOKUPS)


def find_report(code_text: str) -> Report | None:
    code = normalise_code(code_text)
    if code is None:
        return None
    return Report.objects.filter(code=code).first()


# --- The committee's decisions ------------------------------------------------------------


def review_report(
    report: Report, *, user, to_status: str, note: str, now: datetime
) -> ReportDecision:
    """Change a report's status (or keep it) with the member's note: one recorded
    decision. Compare-and-set: if someone else changed the status meanwhile, refuse."""
    note = (note or "").strip()
    if len(note) < NOTE_MIN_LENGTH:
        raise ReportRefused(f"请写明处理意见（至少 {NOTE_MIN_LENGTH} 个字）。")
    if to_status not in Report.Status.values:
        raise ReportRefused("没有这个状态。")
    from_status = report.status
    with transaction.atomic():
        changed = Report.objects.filter(pk=report.pk, status=from_status).update(
            status=to_status,
            status_changed_at=now if to_status != from_status else report.status_changed_at,
        )
        if not changed:
            raise ReportRefused("这份举报的状态刚被其他人改过，请刷新后再处理。")
        decision = ReportDecision.objects.create(
            report=report,
            from_status=from_status,
            to_status=to_status,
            note=note,
            decided_by=user,
            decided_at=now,
        )
    report.refresh_from_db()
    return decision
