"""CSV exports for the committee, in UTF-8 with a BOM so that Excel shows Chinese."""

import csv
from collections import defaultdict

from django.db.models import Count, Q
from django.http import HttpResponse
from django.utils import timezone

from ballots.models import Ballot, Choice
from cases.models import Batch, Case

BOM = "\ufeff"


def csv_response(filename: str, header: list[str], rows) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.write(BOM)
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows(rows)
    return response


def vote_rows(batch: Batch):
    """Per case: valid and voided votes and its status."""
    counts = (
        Choice.objects.filter(ballot__batch=batch)
        .values("case_id")
        .annotate(
            valid=Count("id", filter=Q(ballot__status=Ballot.Status.VALID)),
            void=Count("id", filter=Q(ballot__status=Ballot.Status.VOID)),
        )
    )
    by_case = {row["case_id"]: row for row in counts}
    for case in Case.objects.filter(batch=batch).order_by("number"):
        row = by_case.get(case.pk, {"valid": 0, "void": 0})
        yield [
            batch.number,
            case.display_number,
            case.title,
            case.province,
            case.get_status_display(),
            row["valid"],
            row["void"],
        ]


def batches_csv(name: str, header: list[str], rows_of, batches: list[Batch]) -> HttpResponse:
    """One CSV for the chosen batches, named for what it holds and when it was taken."""
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    rows = (row for batch in batches for row in rows_of(batch))
    return csv_response(f"casevote-{name}-{stamp}.csv", header, rows)


def votes_csv(batches: list[Batch]) -> HttpResponse:
    header = ["批次", "编号", "案例", "省份", "状态", "有效票", "作废票"]
    return batches_csv("votes", header, vote_rows, batches)


def timeline_rows(batch: Batch):
    """Per day (Beijing): ballots cast, and how many of them are now valid or void."""
    per_day = defaultdict(lambda: {"valid": 0, "void": 0})
    rows = Ballot.objects.filter(batch=batch).values("cast_day", "status").annotate(n=Count("id"))
    for row in rows:
        per_day[row["cast_day"]][row["status"]] += row["n"]
    for day in sorted(per_day):
        counts = per_day[day]
        yield [
            batch.number,
            day.isoformat(),
            counts["valid"] + counts["void"],
            counts["valid"],
            counts["void"],
        ]


def timeline_csv(batches: list[Batch]) -> HttpResponse:
    header = ["批次", "日期", "选票", "有效", "作废"]
    return batches_csv("timeline", header, timeline_rows, batches)
