"""What the detector reads and what it reports, and the reports' JSON round trip.

`ballots.evidence.load_records` turns ballots into `BallotRecord`s; `detect` turns
those into one `CaseReport` per case. Reports are stored as JSON (`DetectionRun.reports`,
void decisions' evidence), so `report_from_dict(report_to_dict(r)) == r` must hold,
and a field added here needs a default for the runs already stored.
"""

from dataclasses import asdict, dataclass, field
from datetime import datetime

from ballots.detection.thresholds import DETECTOR_VERSION

# A case's verdict (CaseReport.verdict) and the families of evidence, in report order.
FLAGGED, WATCH, CO_SELECTED, CLEAN = "flagged", "watch", "co-selected", "clean"
FAMILIES = ("timing", "network", "device", "identity", "content")


@dataclass(frozen=True, slots=True)
class BallotRecord:
    """One ballot as the detector sees it: who, when, from where, on what, for which
    cases. The detector keeps them as `Columns` (columns.py); a large poll is loaded
    straight into columns (`ballots.evidence.load_columns`), never as records.

    `unfollowed_at` is the follower's latest unfollow (Follower.unfollowed_at, kept
    after a re-follow), None when none is known; last, with a default, so records
    built without it still work."""

    id: int
    cast_at: datetime
    follower_id: int
    followed_at: datetime | None
    ip_network: str
    ip_subnet: str
    user_agent: str
    device_id: str
    form_served_at: datetime
    cases: tuple[int, ...]
    unfollowed_at: datetime | None = None


@dataclass
class FamilyScore:
    """One family's deciding measure: its value, the baseline, and the threshold at
    which it reaches its top score (2; 1 for the weak-only measures)."""

    name: str
    value: float | None
    baseline: float | None
    threshold: float | None
    score: int
    metric: str = ""  # what `value` measures
    direction: str = ">="  # suspicious when value >= threshold, or "<="
    skipped: bool = False  # the family that selected the slice is not scored


@dataclass
class SuspectSlice:
    kind: str  # "address", "subnet", "burst", "cohort" or "traits"
    description: str
    ballot_ids: list[int]
    start: datetime
    end: datetime
    score: float = 0.0  # its family scores summed


@dataclass
class HourBin:
    start: datetime
    observed: int
    expected: float
    suspect: bool


@dataclass
class CaseReport:
    """Everything the evidence page shows for one case.

    `families`, `user_agents`, `devices`, `top_ips`, `top_subnets`, `gap_histogram`
    and `follow_lag_histogram` describe the deciding slice (`slices[0]`), or all the
    case's ballots when it has no slice. `total` and `rank` count the ballots read;
    the `_without_slice` pair is what they would be with the deciding slice's
    ballots voided (whole ballots: other cases lose those votes too).
    """

    case: int
    verdict: str  # "flagged", "watch", "co-selected" or "clean"
    flagged: bool
    score: float
    reasons: list[str]
    families: list[FamilyScore]
    slices: list[SuspectSlice]
    hourly: list[HourBin]
    top_ips: list[tuple[str, int, float]]  # (address, its ballots, share including the case)
    top_subnets: list[tuple[str, int, float]]
    user_agents: int
    devices: int
    gap_histogram: list[tuple[str, int]]
    co_selected: list[int]
    co_selected_with: list[int]
    total: int
    rank: int
    total_without_slice: int
    rank_without_slice: int
    follow_lag_histogram: list[tuple[str, int]] = field(default_factory=list)
    # The case's shared traits (traits.py): (trait, its over-represented values,
    # ballots of the case with them, expected from the rest of the poll).
    traits: list[tuple[str, str, int, float]] = field(default_factory=list)


def report_to_dict(report: CaseReport) -> dict:
    """JSON-serialisable: datetimes in ISO 8601, tuples as lists, with the version."""
    data = _jsonable(asdict(report))
    data["detector_version"] = DETECTOR_VERSION
    return data


def report_from_dict(data: dict) -> CaseReport:
    """The inverse of `report_to_dict`, for reports stored as JSON."""
    fields = dict(data)
    fields.pop("detector_version", None)
    fields["families"] = [FamilyScore(**family) for family in fields["families"]]
    fields["slices"] = [
        SuspectSlice(
            **{
                **item,
                "start": datetime.fromisoformat(item["start"]),
                "end": datetime.fromisoformat(item["end"]),
            }
        )
        for item in fields["slices"]
    ]
    fields["hourly"] = [
        HourBin(**{**hour, "start": datetime.fromisoformat(hour["start"])})
        for hour in fields["hourly"]
    ]
    for name in ("top_ips", "top_subnets", "gap_histogram", "follow_lag_histogram", "traits"):
        fields[name] = [tuple(row) for row in fields.get(name, [])]
    return CaseReport(**fields)


def _jsonable(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value
