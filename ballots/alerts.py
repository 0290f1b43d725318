"""Brushing alerts: tell the committee once when a case's verdict rises between runs.

`raise_alerts(run)` compares a stored run (ballots.snapshots.store_run) with the
previous stored run of its batch and records an `Alert` for each case whose verdict
rose (clean → watch → flagged; co-selected counts as clean). The unique constraint on
(batch, case, verdict) makes each state alerted once, even if two runs race.

`deliver_pending()` sends what is not yet delivered on each configured channel (e-mail
through Django's mail, a WeChat Work group robot's webhook). A failing channel is
logged and tried again at the next call, CASEVOTE_ALERT_MAX_ATTEMPTS times in all;
it never raises, so detection goes on whatever the channels do.
"""

import json
import logging
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from ballots import detection
from ballots.models import Alert, DetectionRun
from cases.models import Case, format_number
from cases.sharing import absolute_url

logger = logging.getLogger(__name__)

ALERT_REASONS = 3
WECOM_MAX_BYTES = 4096
MONITORING_URL = "admin:cases_batch_monitoring"  # ballots/admin/catalogue.py
# How alarming each verdict is; a rise in level is what the committee hears about.
LEVELS = {detection.CLEAN: 0, detection.CO_SELECTED: 0, detection.WATCH: 1, detection.FLAGGED: 2}
CHANNELS = ("email", "wecom")


# --- Which cases rose ------------------------------------------------------------------


def previous_run(run: DetectionRun) -> DetectionRun | None:
    """The stored run of the same batch and detector version just before `run`."""
    earlier = DetectionRun.objects.filter(
        batch=run.batch, detector_version=run.detector_version
    ).exclude(pk=run.pk)
    earlier = earlier.filter(started_at__lt=run.started_at) | earlier.filter(
        started_at=run.started_at, pk__lt=run.pk
    )
    return earlier.order_by("-started_at", "-pk").first()


def verdicts_of(run: DetectionRun | None) -> dict[int, str]:
    return {} if run is None else {r["case"]: r["verdict"] for r in run.reports}


def rose(before: str, after: str) -> bool:
    return LEVELS[after] > LEVELS[before]


def raise_alerts(run: DetectionRun) -> list[Alert]:
    """Record an alert for each case whose verdict rose since the previous run (no
    previous run: since clean). Returns the new alerts; a state already alerted is not."""
    before = verdicts_of(previous_run(run))
    created = []
    for report in run.reports:
        was = before.get(report["case"], detection.CLEAN)
        if not rose(was, report["verdict"]):
            continue
        alert = _record(run, report, was)
        if alert is not None:
            created.append(alert)
    return created


def _record(run: DetectionRun, report: dict, was: str) -> Alert | None:
    state = {True: Alert.Delivery.PENDING, False: Alert.Delivery.OFF}
    try:
        with transaction.atomic():
            return Alert.objects.create(
                batch=run.batch,
                case_number=report["case"],
                verdict=report["verdict"],
                previous_verdict=was,
                run=run,
                reasons=report["reasons"][:ALERT_REASONS],
                created_at=timezone.now(),
                email_state=state[bool(settings.CASEVOTE_ALERT_EMAILS)],
                wecom_state=state[bool(settings.CASEVOTE_ALERT_WECOM_WEBHOOK)],
            )
    except IntegrityError:
        return None  # this state of this case was alerted already


# --- What an alert says ------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    subject: str
    lines: list[str]
    link: str


def message_for(alert: Alert) -> Message:
    case = Case.objects.filter(batch=alert.batch, number=alert.case_number).first()
    number = format_number(alert.case_number)
    title = case.title if case is not None else ""
    label = detection.VERDICT_LABELS[alert.verdict]
    link = absolute_url(reverse(MONITORING_URL, args=[alert.batch.pk]) + f"?case={number}")
    subject = f"刷票监测：第{alert.batch.number}批案例{number}「{title}」升为{label}"
    lines = [
        f"第{alert.batch.number}批案例{number}「{title}」",
        f"结论：{detection.VERDICT_LABELS[alert.previous_verdict]} → {label}",
        *[f"{i}. {reason}" for i, reason in enumerate(alert.reasons, 1)],
    ]
    return Message(subject, lines, link)


def email_body(message: Message) -> str:
    return "\n".join([*message.lines, "", f"证据：{message.link}", "", "结论仅供组委会参考。"])


def wecom_content(message: Message) -> str:
    """Markdown for the robot, cut to fit its 4096 bytes (reasons shortened first)."""
    head, *rest = message.lines
    tail = f"\n[查看证据]({message.link})"
    text = f"**{head}**\n" + "\n".join(rest)
    room = WECOM_MAX_BYTES - len(tail.encode())
    encoded = text.encode()
    if len(encoded) > room:
        text = encoded[: room - len("…".encode())].decode(errors="ignore") + "…"
    return text + tail


# --- Delivery -----------------------------------------------------------------------------


class DeliveryError(Exception):
    """A channel did not take the message."""


def send_email(message: Message) -> None:
    send_mail(
        message.subject,
        email_body(message),
        settings.DEFAULT_FROM_EMAIL,
        settings.CASEVOTE_ALERT_EMAILS,
    )


def send_wecom(message: Message) -> None:
    """POST the markdown message; WeCom answers {"errcode": 0, "errmsg": "ok"}."""
    body = json.dumps(
        {"msgtype": "markdown", "markdown": {"content": wecom_content(message)}},
        ensure_ascii=False,
    ).encode()
    url = settings.CASEVOTE_ALERT_WECOM_WEBHOOK
    if not url.startswith(("https://", "http://")):
        raise DeliveryError("CASEVOTE_ALERT_WECOM_WEBHOOK 必须是 https:// 地址")
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url,
        data=body,
        headers={"Content-Type": "application/json; charset=utf-8"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(  # noqa: S310 (scheme checked above)
            request, timeout=settings.CASEVOTE_ALERT_TIMEOUT
        ) as response:
            answer = json.loads(response.read() or b"{}")
    except (OSError, ValueError) as error:
        raise DeliveryError(str(error)) from error
    if not isinstance(answer, dict) or answer.get("errcode") != 0:
        raise DeliveryError(f"企业微信回答 {answer!r}")


SENDERS = {"email": send_email, "wecom": send_wecom}


def deliver_pending() -> int:
    """Try every pending delivery once; returns how many were delivered. Never raises."""
    delivered = 0
    for channel in CHANNELS:
        pending = Alert.objects.filter(**{f"{channel}_state": Alert.Delivery.PENDING})
        for alert in pending.select_related("batch").order_by("pk"):
            delivered += _deliver(alert, channel)
    return delivered


def _deliver(alert: Alert, channel: str) -> bool:
    attempts = getattr(alert, f"{channel}_attempts") + 1
    fields = {f"{channel}_attempts": attempts}
    try:
        SENDERS[channel](message_for(alert))
    except Exception as error:  # any failure of a channel is logged, never raised
        gave_up = attempts >= settings.CASEVOTE_ALERT_MAX_ATTEMPTS
        fields[f"{channel}_error"] = str(error)[:1000] or type(error).__name__
        if gave_up:
            fields[f"{channel}_state"] = Alert.Delivery.GAVE_UP
        logger.warning(
            "Alert %s (batch %s case %03d → %s) not delivered by %s, attempt %s/%s: %s%s",
            alert.pk,
            alert.batch.number,
            alert.case_number,
            alert.verdict,
            channel,
            attempts,
            settings.CASEVOTE_ALERT_MAX_ATTEMPTS,
            error,
            "; giving up" if gave_up else "; retried at the next round",
        )
        Alert.objects.filter(pk=alert.pk).update(**fields)
        return False
    fields[f"{channel}_state"] = Alert.Delivery.SENT
    fields[f"{channel}_error"] = ""
    Alert.objects.filter(pk=alert.pk).update(**fields)
    return True
