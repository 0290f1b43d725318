"""Keeping reporters' personal data only as long as the committee needs it.

A report's contact details, the address it came from and its screenshots are personal
data. They are removed from a closed report once CASEVOTE_REPORT_RETENTION_DAYS have
passed since it was closed, and from every report once the campaign has ended (every
batch past its own retention, as `anonymise_ballots` reckons it). The report, its
description, its case, its dates and the committee's decisions stay, marked
anonymised: the record of what was reported and decided. Only the screenshots' files
are deleted (the personal data itself); their rows stay.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet

from ballots.retention import NotYet, retention_ends
from cases.models import Batch
from reports.models import Report, Screenshot
from reports.services import storage


@dataclass(frozen=True)
class Anonymised:
    reports: int
    screenshots: int


def closed_due(now: datetime) -> QuerySet:
    """Closed reports whose retention after closing has passed."""
    cutoff = now - timedelta(days=settings.CASEVOTE_REPORT_RETENTION_DAYS)
    return Report.objects.filter(status=Report.Status.CLOSED, status_changed_at__lte=cutoff)


def campaign_ended_at(now: datetime) -> datetime:
    """When the last batch's retention ended; NotYet if some batch's has not."""
    batches = list(Batch.objects.all())
    if not batches:
        raise NotYet("还没有任何批次，活动没有结束。")
    ends = []
    for batch in batches:
        end = retention_ends(batch)
        if end is None or now < end:
            raise NotYet(
                f"第{batch.number}批的个人数据保留期还没有结束"
                f"{f'（到 {end:%Y-%m-%d %H:%M}）' if end else '（没有投票截止时间）'}，活动尚未结束。"
            )
        ends.append(end)
    return max(ends)


def personal(reports: QuerySet) -> QuerySet:
    return reports.filter(
        Q(anonymised_at__isnull=True)
        | Q(screenshots__name__gt="")
        | ~Q(contact_name="")
        | ~Q(contact_details="")
    ).distinct()


def anonymise_reports(
    now: datetime, *, campaign_ended: bool = False, dry_run: bool = False
) -> Anonymised:
    """Remove reporters' personal data from the reports that are due (idempotent)."""
    if campaign_ended:
        campaign_ended_at(now)
        due = Report.objects.all()
    else:
        due = closed_due(now)
    reports = personal(due)
    shots = Screenshot.objects.filter(report__in=due, name__gt="")
    counts = Anonymised(reports.count(), shots.count())
    if dry_run:
        return counts
    names = list(shots.values_list("name", flat=True))
    with transaction.atomic():
        ids = list(reports.values_list("pk", flat=True))
        Report.objects.filter(pk__in=ids).update(
            contact_name="", contact_details="", ip_network="", ip_subnet=""
        )
        Report.objects.filter(pk__in=ids, anonymised_at__isnull=True).update(anonymised_at=now)
        Screenshot.objects.filter(name__in=names).update(name="", removed_at=now)
        # Files go once the rows no longer name them; a crash before this leaves
        # files without a row, which the next run cannot see: delete them on commit.
        transaction.on_commit(lambda: [storage().delete(name) for name in names])
    return counts
