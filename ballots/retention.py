"""Keeping personal data only as long as the committee needs it.

After a batch has closed and the retention period has passed, its ballots lose
what identifies a person or a phone: the IP address and its /64, the device id's
link to the browser (ids are replaced by keyed hashes with a key that is thrown
away, so "ballots per device" can still be counted but no cookie maps to them) and,
for followers with no ballot in a batch still within retention, the follower key
(a WeChat openid), in its follow events too (the same pseudonym, so they stay the
follower's). Stored detector runs lose their lists of top addresses. The
/24, user agents, times and choices stay: they are the aggregate evidence behind
any decision (decisions keep their evidence snapshots as taken). Nothing is deleted.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q

from ballots.models import Anonymisation, Ballot, DetectionRun, Follower, FollowEvent
from cases.models import Batch
from casevote.errors import Refusal

PSEUDONYM_PREFIX = "anon-"


class NotYet(Refusal):
    """The batch's retention period has not ended: nothing is anonymised yet."""


@dataclass(frozen=True)
class Anonymised:
    ballots: int
    followers: int


def retention_ends(batch: Batch) -> datetime | None:
    if batch.voting_closes_at is None:
        return None
    return batch.voting_closes_at + timedelta(days=settings.CASEVOTE_RETENTION_DAYS)


def check_due(batch: Batch, now: datetime) -> None:
    ends = retention_ends(batch)
    if ends is None:
        raise NotYet(f"第{batch.number}批没有投票截止时间，不能匿名化。")
    if now < ends:
        raise NotYet(
            f"第{batch.number}批的个人数据保留到 {ends:%Y-%m-%d %H:%M}（截止后 "
            f"{settings.CASEVOTE_RETENTION_DAYS} 天），现在还不能匿名化。"
        )


def pseudonym(key: bytes, value: str) -> str:
    if not value:
        return ""
    return PSEUDONYM_PREFIX + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:24]


def personal_ballots(batch: Batch):
    return Ballot.objects.filter(batch=batch).filter(
        Q(ip_address__isnull=False)
        | Q(ip_network__gt="")
        | (Q(device_id__gt="") & ~Q(device_id__startswith=PSEUDONYM_PREFIX))
    )


def anonymise_batch(batch: Batch, now: datetime, *, dry_run: bool = False) -> Anonymised:
    """Strip personal data from a batch's ballots (idempotent); see the module docstring."""
    check_due(batch, now)
    personal = personal_ballots(batch)
    followers = followers_due(batch, now)
    counts = Anonymised(personal.count(), followers.count())
    if dry_run:
        return counts
    key = secrets.token_bytes(32)  # never stored: the pseudonyms cannot be reversed
    with transaction.atomic():
        devices = (
            personal.exclude(device_id="")
            .exclude(device_id__startswith=PSEUDONYM_PREFIX)
            .values_list("device_id", flat=True)
            .distinct()
        )
        for device in list(devices):
            Ballot.objects.filter(batch=batch, device_id=device).update(
                device_id=pseudonym(key, device)
            )
        personal.update(ip_address=None, ip_network="")
        forget_run_addresses(batch)
        for follower in followers.only("pk", "backend", "key").iterator(chunk_size=5000):
            replacement = pseudonym(key, follower.key)
            Follower.objects.filter(pk=follower.pk).update(key=replacement)
            if follower.backend == "wechat":
                FollowEvent.objects.filter(openid=follower.key).update(openid=replacement)
        Anonymisation.objects.create(
            batch=batch, done_at=now, ballots=counts.ballots, followers=counts.followers
        )
    return counts


def forget_run_addresses(batch: Batch) -> None:
    """Stored detector runs list each case's top IP addresses; keep the /24 lists."""
    for run in DetectionRun.objects.filter(batch=batch).only("pk", "reports").iterator():
        reports = [{**report, "top_ips": []} for report in run.reports]
        if reports != run.reports:
            DetectionRun.objects.filter(pk=run.pk).update(reports=reports)


def followers_due(batch: Batch, now: datetime):
    """Followers who voted in this batch and in no batch still within retention."""
    still_needed = Ballot.objects.filter(follower=OuterRef("pk")).exclude(
        batch__in=[b.pk for b in Batch.objects.all() if _past_retention(b, now)]
    )
    return (
        Follower.objects.filter(ballots__batch=batch)
        .exclude(key__startswith=PSEUDONYM_PREFIX)
        .exclude(Exists(still_needed))
        .distinct()
    )


def _past_retention(batch: Batch, now: datetime) -> bool:
    ends = retention_ends(batch)
    return ends is not None and now >= ends
