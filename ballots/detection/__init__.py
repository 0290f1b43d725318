"""Brushing (刷票) detection: pure functions over ballot records, with figures and reasons.

The design (/work/shared/design/vote-integrity.md, "Detection: localise, then
characterise") in code. No ORM here: `ballots.evidence.load_records` reads the
records and `detect(records, case_numbers)` reports on every case. The detector
never decides; it points the committee at slices of ballots and says why, in numbers.

1. Localise. For each case, pick out suspect slices of its ballots:
   - burst hours: votes per Beijing hour vs expected, z = (obs − exp)/√(exp + 1),
     suspect when z > BURST_MIN_Z, obs > BURST_MIN_RATIO × exp and obs ≥
     BURST_MIN_BALLOTS. Expected is the case's odds among the *other* ballots times
     the other ballots that hour, so a burst does not inflate its own expectation.
     Suspect hours at most BURST_MERGE_GAP_HOURS apart form one slice;
   - focused addresses: IPs (IPv6 /64) used by ≥ FOCUS_MIN_ADDRESS_VOTERS different
     followers whose ballots include the case ≥ FOCUS_MIN_SHARE of the time; likewise
     /24s (FOCUS_MIN_SUBNET_VOTERS). Voters, not ballots: a loyal supporter voting
     every day from home is allowed and must not make a focused address;
   - the cohort of single-choice ballots from followers who followed at most
     FRESH_FOLLOW_SECONDS before voting.
   A selector proves nothing on its own (a village on one Wi-Fi, a viral surge).

2. Characterise. Each slice of ≥ SLICE_MIN_BALLOTS ballots is scored 0/1/2 in five
   families of evidence; the family that selected the slice is skipped (burst →
   timing, addresses and /24s → network, cohort → identity and content):
   - timing: IQR of log10 inter-arrival gaps (scripts are metronomic, people are
     Poisson, ≈ 0.68), night (00–06h) share vs the rest of the poll, and a flat
     hour-of-day profile over days (weak only);
   - network: distinct /24s per voter, the share of the top /24s, and the share of
     voters on /24s used (almost) only by this slice;
   - device: distinct user agents, followers per device cookie, non-WeChat user
     agents, dwell under FAST_DWELL_SECONDS (the server already refuses < 2 s, so
     "too fast to have read the page" starts a little above it);
   - identity: followed seconds before voting (strong), followed minutes before
     (weak only: following is required to vote, so it is weighted low). Unfollows
     are not scored: Follower.unfollowed_at is only set when a returning voter's
     WeChat re-check finds them gone, which farm accounts rarely do;
   - content: single-choice share, and lockstep — the same multi-case set cast ≥
     LOCKSTEP_MIN_GROUP times in one hour, ≥ LOCKSTEP_MIN_RATIO × what the set's
     frequency in the other hours predicts.
   A family scores the highest of its measures. Baselines: per-ballot shares are
   compared with the rest of the poll (the poll without the slice); counts (user
   agents, /24s, devices) are taken over one ballot per voter and compared with the
   mean of SAMPLE_REPEATS random samples of the poll of the same size, drawn with
   fixed seeds — the same records always give the same report.

3. Decide. The design says "flag a case when a slice is strong in ≥ 3 families (one
   of them strong); watch at 2", which cannot be read literally. Interpretation: a
   slice with evidence (score ≥ 1) in ≥ FLAG_MIN_FAMILIES families, at least
   FLAG_MIN_STRONG of them strong (2), flags its case; evidence in ≥
   WATCH_MIN_FAMILIES families (or in 3 without a strong one) means watch; else
   clean. A case's verdict is that of its best slice (highest score), which the
   report calls the deciding slice (`slices[0]`).
   Farms add popular cases as camouflage. A flagged case C is "co-selected" when it
   rides in a flagged slice of another case P — C is on ≥ CO_SELECTED_MIN_SHARE of
   that slice's ballots, and the slice inflates C much less than P (slice ballots
   per vote the case has without them: < CO_SELECTED_SHARE_RATIO × P's) — and none
   of C's flagged slices is still flagged once P's slices are taken out of it. A case that is not flagged itself
   but rides on the deciding slice of a flagged case is co-selected as well.

The score is the sum of the deciding slice's family scores (0–10 before skipping).
What it cannot see: a human-paced "stealth farm" (real phones, home lines, human
gaps, multi-case ballots, accounts followed long before) looks like honest
supporters and is expected to slip through; that is left to the committee's
judgement rather than tuned for.
"""

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from ballots.detection import selectors, text
from ballots.detection.measures import Slice, measure
from ballots.detection.poll import Poll
from ballots.detection.records import (
    CLEAN,
    CO_SELECTED,
    FAMILIES,
    FLAGGED,
    WATCH,
    BallotRecord,
    CaseReport,
    FamilyScore,
    HourBin,
    SuspectSlice,
    report_from_dict,
    report_to_dict,
)
from ballots.detection.text import FAMILY_LABELS
from ballots.detection.thresholds import (
    CO_SELECTED_MIN_SHARE,
    CO_SELECTED_SHARE_RATIO,
    DETECTOR_VERSION,
    FLAG_MIN_FAMILIES,
    FLAG_MIN_STRONG,
    FOLLOW_LAG_EDGES,
    GAP_EDGES,
    SLICE_MIN_BALLOTS,
    TIME_ZONE,
    TOP_ADDRESSES,
    WATCH_MIN_FAMILIES,
)

__all__ = [
    "CLEAN",
    "CO_SELECTED",
    "DETECTOR_VERSION",
    "FAMILIES",
    "FAMILY_LABELS",
    "FLAGGED",
    "WATCH",
    "BallotRecord",
    "CaseReport",
    "FamilyScore",
    "HourBin",
    "SuspectSlice",
    "detect",
    "report_from_dict",
    "report_to_dict",
]

FOLLOW_LAG_LABELS = ("<20 s", "20–60 s", "1–10 min", "10–60 min", "1–24 h", "≥1 d")

VERDICT_ORDER = {FLAGGED: 0, CO_SELECTED: 1, WATCH: 2, CLEAN: 3}
# Slice kinds in order of preference when scores tie, with the families they skip.
SLICE_KINDS = {
    "address": ("network",),
    "subnet": ("network",),
    "burst": ("timing",),
    "cohort": ("identity", "content"),
}


@dataclass
class _Evaluation:
    kind: str
    description: str
    indices: list[int]
    families: list[FamilyScore]
    reasons: list[str]
    positive: int  # families with evidence (score ≥ 1)
    strong: int  # families scoring 2

    @property
    def score(self) -> float:
        return float(sum(f.score for f in self.families))

    @property
    def verdict(self) -> str:
        if self.positive >= FLAG_MIN_FAMILIES and self.strong >= FLAG_MIN_STRONG:
            return FLAGGED
        if self.positive >= WATCH_MIN_FAMILIES:
            return WATCH
        return CLEAN


def _evaluate(poll: Poll, kind: str, description: str, indices: list[int]) -> _Evaluation:
    skipped = SLICE_KINDS[kind]
    s = Slice.of(poll, indices)
    families, reasons = [], [description]
    positive = strong = 0
    for name in FAMILIES:
        if name in skipped:
            families.append(
                FamilyScore(name, None, None, None, 0, metric=text.SKIPPED_METRIC, skipped=True)
            )
            continue
        found = measure(name, s)
        best = max(found, key=lambda m: m.score)  # the first of the highest
        families.append(
            FamilyScore(
                name=name,
                value=best.value,
                baseline=best.baseline,
                threshold=best.threshold,
                score=best.score,
                metric=text.metric(best),
                direction=best.direction,
            )
        )
        reasons.extend(text.reason(name, m) for m in found if m.score)
        positive += best.score >= 1
        strong += best.score == 2
    return _Evaluation(kind, description, indices, families, reasons, positive, strong)


# --- Evidence for the page -------------------------------------------------------------


def _histogram(
    values: Iterable[float], edges: Sequence[float], labels: Sequence[str]
) -> list[tuple[str, int]]:
    counts = [0] * (len(edges) + 1)
    for value in values:
        position = 0
        while position < len(edges) and value >= edges[position]:
            position += 1
        counts[position] += 1
    return list(zip(labels, counts, strict=True))


GAP_LABELS = (
    "<1 s",
    *(f"{low:g}–{high:g} s" for low, high in pairwise(GAP_EDGES)),
    f"≥{GAP_EDGES[-1]:g} s",
)


def _gap_histogram(poll: Poll, indices: Sequence[int]) -> list[tuple[str, int]]:
    times = [poll.ts[i] for i in indices]
    return _histogram((b - a for a, b in pairwise(times)), GAP_EDGES, GAP_LABELS)


def _follow_lag_histogram(poll: Poll, indices: Sequence[int]) -> list[tuple[str, int]]:
    lags = [poll.follow_lag[i] for i in indices]
    rows = _histogram((lag for lag in lags if lag is not None), FOLLOW_LAG_EDGES, FOLLOW_LAG_LABELS)
    unknown = sum(lag is None for lag in lags)
    return rows + [("unknown", unknown)] if unknown else rows


def _top(poll: Poll, groups: dict[str, list[int]], key_of, number: int, indices: Sequence[int]):
    """The addresses most of these ballots came from: (address, all its ballots in the
    poll, the share of those that include the case)."""
    counts = Counter(key_of(poll.records[i]) for i in indices)
    counts.pop("", None)
    rows = []
    for key, _ in counts.most_common(TOP_ADDRESSES):
        ballots = groups[key]
        including = sum(number in poll.records[i].cases for i in ballots)
        rows.append((key, len(ballots), round(including / len(ballots), 3)))
    return rows


def _ranks(totals: dict[int, int]) -> dict[int, int]:
    """1 + the number of cases with more votes (ties share a rank)."""
    ordered = sorted(totals.values(), reverse=True)
    first: dict[int, int] = {}
    for position, votes in enumerate(ordered, start=1):
        first.setdefault(votes, position)
    return {number: first[votes] for number, votes in totals.items()}


def _suspect_slice(poll: Poll, evaluation: _Evaluation) -> SuspectSlice:
    indices = evaluation.indices
    return SuspectSlice(
        kind=evaluation.kind,
        description=evaluation.description,
        ballot_ids=[poll.records[i].id for i in indices],
        start=poll.records[indices[0]].cast_at.astimezone(TIME_ZONE),
        end=poll.records[indices[-1]].cast_at.astimezone(TIME_ZONE),
        score=evaluation.score,
    )


# --- The detector -------------------------------------------------------------------------


def detect(records: Iterable[BallotRecord], case_numbers: Iterable[int]) -> list[CaseReport]:
    """A report for every case, most suspicious first (flagged, then by score)."""
    poll = Poll(records)
    numbers = sorted(set(case_numbers) | set(poll.by_case))
    totals = {number: len(poll.by_case.get(number, [])) for number in numbers}
    ranks = _ranks(totals)
    focused = selectors.focused(poll)
    kind_order = list(SLICE_KINDS)

    hourly: dict[int, list[HourBin]] = {}
    evaluations: dict[int, list[_Evaluation]] = {}
    for number in numbers:
        hourly[number], bursts = selectors.hourly(poll, number)
        evaluated = [
            _evaluate(poll, c.kind, c.description, c.indices)
            for c in selectors.suspect_slices(poll, number, focused, bursts)
        ]
        evaluated.sort(key=lambda e: (-e.score, kind_order.index(e.kind), -len(e.indices)))
        evaluations[number] = evaluated

    verdicts = {n: (e[0].verdict if e else CLEAN) for n, e in evaluations.items()}
    co_selected, co_selected_with = _co_selection(poll, totals, evaluations, verdicts)

    reports = []
    for number in numbers:
        evaluated = evaluations[number]
        deciding = evaluated[0] if evaluated else None
        focus = deciding.indices if deciding else poll.by_case.get(number, [])
        verdict = verdicts[number]
        reasons = _reasons(deciding, verdict, co_selected[number], co_selected_with[number])
        without, rank_without = totals[number], ranks[number]
        if deciding:
            removed = Counter(n for i in deciding.indices for n in poll.records[i].cases)
            remaining = {n: totals[n] - removed.get(n, 0) for n in numbers}
            without, rank_without = remaining[number], _ranks(remaining)[number]
        reports.append(
            CaseReport(
                case=number,
                verdict=verdict,
                flagged=verdict == FLAGGED,
                score=deciding.score if deciding else 0.0,
                reasons=reasons,
                families=deciding.families if deciding else [],
                slices=[_suspect_slice(poll, e) for e in evaluated],
                hourly=hourly[number],
                top_ips=_top(poll, poll.by_network, lambda r: r.ip_network, number, focus),
                top_subnets=_top(poll, poll.by_subnet, lambda r: r.ip_subnet, number, focus),
                user_agents=len({poll.records[i].user_agent for i in focus}),
                devices=len({poll.device[i] for i in focus}),
                gap_histogram=_gap_histogram(poll, focus),
                co_selected=co_selected[number],
                co_selected_with=co_selected_with[number],
                total=totals[number],
                rank=ranks[number],
                total_without_slice=without,
                rank_without_slice=rank_without,
                follow_lag_histogram=_follow_lag_histogram(poll, focus),
            )
        )
    reports.sort(key=lambda r: (not r.flagged, -r.score, VERDICT_ORDER[r.verdict], r.case))
    return reports


def _reasons(
    deciding: _Evaluation | None, verdict: str, riders: list[int], hosts: list[int]
) -> list[str]:
    reasons = list(deciding.reasons) if deciding else []
    if verdict == CO_SELECTED:
        reasons.insert(
            0,
            f"陪投：本案例出现在被标记案例 {'、'.join(f'{n:03d}' for n in hosts)} 的可疑选票里，"
            "去掉那些选票后不再可疑，像是刷票者用来掩护的热门案例，不单独标记",
        )
    elif deciding is not None and verdict != CLEAN:
        reasons.append(
            f"结论：{deciding.positive} 个证据族有信号，其中 {deciding.strong} 个为强"
            f"（≥ {FLAG_MIN_FAMILIES} 个且含 ≥ {FLAG_MIN_STRONG} 个强即标记，"
            f"≥ {WATCH_MIN_FAMILIES} 个为关注）"
        )
    if riders:
        reasons.append(f"可疑选票里同时选了（陪投）：{'、'.join(f'{n:03d}' for n in riders)}")
    return reasons


def _co_selection(
    poll: Poll,
    totals: dict[int, int],
    evaluations: dict[int, list[_Evaluation]],
    verdicts: dict[int, str],
) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """Tell decoys from targets; updates `verdicts`. Returns (riders per case, hosts
    per case)."""

    def share(number: int, evaluation: _Evaluation) -> float:
        """How much a slice inflates a case: its ballots per vote the case has without it."""
        size = len(evaluation.indices)
        return size / max(totals[number] - size, 1)

    flagged = {
        number: [e for e in evaluated if e.verdict == FLAGGED]
        for number, evaluated in evaluations.items()
        if verdicts[number] == FLAGGED
    }
    riders = {
        id(e): {
            n
            for n, count in Counter(c for i in e.indices for c in poll.records[i].cases).items()
            if count >= CO_SELECTED_MIN_SHARE * len(e.indices)
        }
        for slices in flagged.values()
        for e in slices
    }
    # The case a slice inflates most is its beneficiary: look at those first.
    order = sorted(flagged, key=lambda n: (-max(share(n, e) for e in flagged[n]), n))
    primaries: list[int] = []
    co_selected: dict[int, list[int]] = {number: [] for number in evaluations}
    co_selected_with: dict[int, list[int]] = {number: [] for number in evaluations}

    for number in order:
        hosts: set[int] = set()
        cover: set[int] = set()
        for primary in primaries:
            for other in flagged[primary]:
                if number in riders[id(other)] and share(number, other) < (
                    CO_SELECTED_SHARE_RATIO * share(primary, other)
                ):
                    hosts.add(primary)
                    cover.update(other.indices)
        still_flagged = not hosts or any(
            len(rest) >= SLICE_MIN_BALLOTS
            and _evaluate(poll, e.kind, e.description, rest).verdict == FLAGGED
            for e in flagged[number]
            for rest in [[i for i in e.indices if i not in cover]]
        )
        if still_flagged:
            primaries.append(number)
            continue
        verdicts[number] = CO_SELECTED
        for host in sorted(hosts):
            co_selected[host].append(number)
            co_selected_with[number].append(host)

    for primary in primaries:
        deciding = evaluations[primary][0]
        for number in sorted(riders.get(id(deciding), set()) - {primary}):
            if number not in co_selected[primary]:
                co_selected[primary].append(number)
            if verdicts[number] in (WATCH, CLEAN):
                verdicts[number] = CO_SELECTED
            if verdicts[number] == CO_SELECTED and primary not in co_selected_with[number]:
                co_selected_with[number].append(primary)
    for table in (co_selected, co_selected_with):
        for values in table.values():
            values.sort()
    return co_selected, co_selected_with
