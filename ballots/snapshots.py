"""Stored detector runs: what the monitoring page shows on a large poll.

Running the detector means reading every valid ballot of the batch, which is
fine for tens of thousands and far too slow for a request at a million. So runs
are stored (`DetectionRun`): `detect_brushing --store`, run every few minutes by
the scheduler during a campaign, writes one; the monitoring page shows the newest
and says how much has happened since. On a small poll the page runs the detector
itself when its newest run is out of date (CASEVOTE_MONITORING_LIVE_LIMIT).
"""

import time
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from ballots import detection, evidence
from ballots.models import Ballot, Decision, DetectionRun
from cases.models import Batch


@dataclass(frozen=True)
class Marks:
    """Where the batch's ballots and decisions stand: a run made at other marks is stale."""

    newest_ballot_id: int
    newest_decision_id: int

    @classmethod
    def of(cls, batch: Batch) -> "Marks":
        return cls(
            Ballot.objects.filter(batch=batch).aggregate(m=Max("pk"))["m"] or 0,
            Decision.objects.filter(batch=batch).aggregate(m=Max("pk"))["m"] or 0,
        )


@dataclass(frozen=True)
class Since:
    """What changed after a run: new ballots and decisions."""

    ballots: int
    decisions: int

    @property
    def nothing(self) -> bool:
        return not self.ballots and not self.decisions


def store_run(batch: Batch) -> DetectionRun:
    """Run the detector over the batch's valid ballots and store its reports."""
    started, clock = timezone.now(), time.perf_counter()
    marks = Marks.of(batch)  # before reading, so a ballot cast meanwhile makes it stale
    records = evidence.load_columns(batch)
    reports = detection.detect(records, evidence.case_numbers(batch))
    return DetectionRun.objects.create(
        batch=batch,
        detector_version=detection.DETECTOR_VERSION,
        started_at=started,
        seconds=round(time.perf_counter() - clock, 2),
        ballots=len(records),
        newest_ballot_id=marks.newest_ballot_id,
        newest_decision_id=marks.newest_decision_id,
        reports=[detection.report_to_dict(report) for report in reports],
    )


def latest_run(batch: Batch) -> DetectionRun | None:
    """The newest run of this detector version (older versions scored differently)."""
    runs = DetectionRun.objects.filter(batch=batch, detector_version=detection.DETECTOR_VERSION)
    return runs.defer("reports").order_by("-started_at", "-pk").first()  # MBs: see run_reports


def changes_since(run: DetectionRun, batch: Batch) -> Since:
    return Since(
        Ballot.objects.filter(batch=batch, pk__gt=run.newest_ballot_id).count(),
        Decision.objects.filter(batch=batch, pk__gt=run.newest_decision_id).count(),
    )


def small_enough_to_run_now(batch: Batch, run: DetectionRun | None) -> bool:
    limit = settings.CASEVOTE_MONITORING_LIVE_LIMIT
    if run is not None and run.ballots > limit:
        return False  # a batch that was large stays large: skip the count below
    return not Ballot.objects.filter(batch=batch, status=Ballot.Status.VALID)[limit:].exists()


_reports_memo: dict[int, list[detection.CaseReport]] = {}


def run_reports(run: DetectionRun) -> list[detection.CaseReport]:
    """The run's reports as objects; a run never changes, so each worker keeps the last
    one it read (at a million ballots its JSON is ~1.5 MB, 100 ms to read and parse)."""
    if run.pk not in _reports_memo:
        _reports_memo.clear()
        _reports_memo[run.pk] = [detection.report_from_dict(r) for r in run.reports]
    return _reports_memo[run.pk]


@dataclass(frozen=True)
class PageData:
    run: DetectionRun | None
    reports: list[detection.CaseReport]
    since: Since | None  # changes after the run shown (None: no run yet)


def for_page(batch: Batch) -> PageData:
    """The newest run, re-run first if it is out of date and the batch small enough."""
    run = latest_run(batch)
    since = changes_since(run, batch) if run is not None else None
    if (since is None or not since.nothing) and small_enough_to_run_now(batch, run):
        run, since = store_run(batch), Since(0, 0)
    return PageData(run, run_reports(run) if run is not None else [], since)
