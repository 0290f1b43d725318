"""Where to look: the suspect slices of a case's ballots.

Averaging a whole case dilutes an attack that is a tenth of its ballots, so each
case's ballots are first cut into slices worth scoring:
- focused addresses: IPs (IPv6 /64) used by ≥ FOCUS_MIN_ADDRESS_VOTERS different
  followers whose ballots include the case ≥ FOCUS_MIN_SHARE of the time; likewise
  /24s (FOCUS_MIN_SUBNET_VOTERS). Voters, not ballots: a loyal supporter voting
  every day from home must not make a focused address;
- burst hours: votes per Beijing hour vs expected, z = (obs − exp)/√(exp + 1).
  Expected is the case's odds among the *other* ballots times the other ballots
  that hour, so a burst does not inflate its own expectation. Burst hours with at
  most BURST_MERGE_GAP_HOURS quiet hours between them form one slice;
- the cohort of single-choice ballots from followers who followed at most
  FRESH_FOLLOW_SECONDS before voting;
- shared traits (traits.py): the ballots whose dwell, follow-to-vote time, user
  agent, device reuse, ballot size or hour of day are over-represented among the
  case's ballots against the rest of the poll, trait by trait and combined.
A selector proves nothing on its own (a village on one Wi-Fi, a viral surge): the
slices it finds are scored on the measures that do not read what selected them
(`Candidate.skips`; verdicts.py).
"""

import math
from collections import Counter, defaultdict
from dataclasses import dataclass

from ballots.detection import text
from ballots.detection.measures import KEYS
from ballots.detection.poll import Groups, Poll, hour_start
from ballots.detection.records import HourBin
from ballots.detection.thresholds import (
    BURST_MERGE_GAP_HOURS,
    BURST_MIN_BALLOTS,
    BURST_MIN_RATIO,
    BURST_MIN_Z,
    FOCUS_MIN_ADDRESS_VOTERS,
    FOCUS_MIN_SHARE,
    FOCUS_MIN_SUBNET_VOTERS,
    SLICE_MIN_BALLOTS,
)
from ballots.detection.traits import READS, Finding, TraitTable

Focus = dict[str, dict[int, list[int]]]  # "address"/"subnet" → case → its focused codes
Bursts = dict[int, tuple[int, float, float]]  # hour → (observed, expected, z)


@dataclass(frozen=True)
class Candidate:
    """A slice of a case to score: why it was picked, its ballots (indices into
    `Poll.records`), and the measures that read what picked it (not scored on it)."""

    kind: str  # a key of SELECTED_BY
    description: str
    indices: list[int]
    case: int
    skips: frozenset[str]
    # How many of its ballots the rest of the poll predicts (burst and shared-traits
    # slices; 0 where the selector does not say): the honest part it may hold.
    expected: float = 0.0


# Slice kinds, in order of preference when scores tie, with the measures that read
# what selects them; a shared-traits slice skips the measures of its own traits.
SELECTED_BY = {
    "address": KEYS["network"],
    "subnet": KEYS["network"],
    "burst": KEYS["timing"],
    "cohort": READS["ballot_size"] | READS["follow_lag"],
    "traits": frozenset(),
}


def focused(poll: Poll) -> Focus:
    """The focused addresses and /24s of every case; found once per poll."""
    return {
        "address": _focus(poll, poll.by_network, FOCUS_MIN_ADDRESS_VOTERS),
        "subnet": _focus(poll, poll.by_subnet, FOCUS_MIN_SUBNET_VOTERS),
    }


def hourly(poll: Poll, number: int) -> tuple[list[HourBin], Bursts]:
    """Observed vs expected votes per hour of the poll, and the burst hours' figures."""
    own = poll.by_case.get(number, [])
    others = poll.size - len(own)
    odds = len(own) / others if others else 0.0
    per_hour = Counter(poll.hour[i] for i in own)
    bins, bursts = [], {}
    for hour in range(poll.first_hour, poll.last_hour + 1):
        observed = per_hour.get(hour, 0)
        expected = (poll.per_hour.get(hour, 0) - observed) * odds if others else float(observed)
        z = (observed - expected) / math.sqrt(expected + 1)
        burst = (
            observed >= BURST_MIN_BALLOTS
            and z > BURST_MIN_Z
            and observed > BURST_MIN_RATIO * expected
        )
        if burst:
            bursts[hour] = (observed, expected, z)
        bins.append(HourBin(hour_start(hour), observed, round(expected, 2), burst))
    return bins, bursts


def suspect_slices(poll: Poll, number: int, focus: Focus, bursts: Bursts) -> list[Candidate]:
    """The case's slices of at least SLICE_MIN_BALLOTS ballots: its focused addresses,
    its focused /24s, each run of burst hours, and its single-choice fresh cohort."""
    candidates = [
        _focus_slice(poll, number, focus[kind][number], kind)
        for kind in ("address", "subnet")
        if focus[kind].get(number)
    ]
    candidates.extend(_burst_slices(poll, number, bursts))
    candidates.append(_cohort_slice(poll, number))
    return [c for c in candidates if len(c.indices) >= SLICE_MIN_BALLOTS]


def trait_slices(table: TraitTable, number: int, findings: list[Finding]) -> list[Candidate]:
    """A slice for each of the case's shared traits (`table.findings(number)`) and for
    their combination, of at least SLICE_MIN_BALLOTS ballots."""
    combined = table.combine(number, findings)
    candidates = [
        Candidate(
            "traits",
            text.trait_description(table.describe(f), f.observed, f.expected),
            list(f.indices),
            number,
            f.reads,
            f.expected,
        )
        for f in [*findings, *([combined] if combined else [])]
    ]
    return [c for c in candidates if len(c.indices) >= SLICE_MIN_BALLOTS]


def _focus(poll: Poll, groups: Groups, minimum: int) -> dict[int, list[int]]:
    """Case → addresses (or /24s; their codes) used by ≥ `minimum` voters and whose
    ballots include the case ≥ FOCUS_MIN_SHARE of the time."""
    focus: dict[int, list[int]] = defaultdict(list)
    for key, indices in groups.items(minimum):
        if len(poll.voters(indices)) < minimum:
            continue
        counts = poll.case_counts(indices)
        for number, count in counts.items():
            if count >= FOCUS_MIN_SHARE * len(indices):
                focus[number].append(key)
    return focus


def _focus_slice(poll: Poll, number: int, keys: list[int], kind: str) -> Candidate:
    groups, names = (
        (poll.by_network, poll.columns.networks)
        if kind == "address"
        else (poll.by_subnet, poll.columns.subnets)
    )
    has, cases = poll.has_case(number), poll.cases
    indices = sorted(i for key in keys for i in groups[key] if has[cases[i]])
    voters = len(poll.voters(indices))
    description = text.focus_description(kind, [names[k] for k in keys], len(indices), voters)
    return Candidate(kind, description, indices, number, SELECTED_BY[kind])


def _burst_slices(poll: Poll, number: int, bursts: Bursts) -> list[Candidate]:
    runs: list[list[int]] = []
    for hour in sorted(bursts):
        if runs and hour - runs[-1][-1] <= BURST_MERGE_GAP_HOURS + 1:
            runs[-1].append(hour)
        else:
            runs.append([hour])
    slices = []
    for run in runs:
        hours = set(range(run[0], run[-1] + 1))
        indices = [i for i in poll.by_case[number] if poll.hour[i] in hours]
        description = text.burst_description(
            first=hour_start(run[0]),
            last=hour_start(run[-1] + 1),
            hours=len(run),
            observed=sum(bursts[h][0] for h in run),
            expected=sum(bursts[h][1] for h in run),
            z=max(bursts[h][2] for h in run),
        )
        expected = sum(bursts[h][1] for h in run)
        slices.append(
            Candidate("burst", description, indices, number, SELECTED_BY["burst"], expected)
        )
    return slices


def _cohort_slice(poll: Poll, number: int) -> Candidate:
    indices = [i for i in poll.by_case.get(number, []) if poll.single[i] and poll.fresh[i]]
    description = text.cohort_description(len(indices))
    return Candidate("cohort", description, indices, number, SELECTED_BY["cohort"])
