"""Scoring a suspect slice and deciding a case: flagged, watch, co-selected or clean.

The design says "flag a case when a slice is strong in ≥ 3 families (one of them
strong); watch at 2", which cannot be read literally. Interpretation: a slice with
evidence (score ≥ 1) in ≥ FLAG_MIN_FAMILIES families, at least FLAG_MIN_STRONG of
them strong (2), flags its case; evidence in ≥ WATCH_MIN_FAMILIES families (or in 3
without a strong one) means watch; else clean. The family that selected the slice
is skipped (SLICE_KINDS). A case's verdict is that of its best slice (highest
score), the deciding slice.

Farms add popular cases as camouflage. A flagged case C is co-selected when it
rides in a flagged slice of another case P — C is on ≥ CO_SELECTED_MIN_SHARE of
that slice's ballots, and the slice inflates C much less than P (slice ballots per
vote the case has without them: < CO_SELECTED_SHARE_RATIO × P's) — and none of C's
flagged slices is still flagged once P's slices are taken out of it. A case that is
not flagged itself but rides on the deciding slice of a flagged case is co-selected
as well.
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from ballots.detection import text
from ballots.detection.measures import Slice, measure
from ballots.detection.poll import Poll
from ballots.detection.records import CLEAN, CO_SELECTED, FAMILIES, FLAGGED, WATCH, FamilyScore
from ballots.detection.selectors import Candidate
from ballots.detection.thresholds import (
    CO_SELECTED_MIN_SHARE,
    CO_SELECTED_SHARE_RATIO,
    FLAG_MIN_FAMILIES,
    FLAG_MIN_STRONG,
    SLICE_MIN_BALLOTS,
    WATCH_MIN_FAMILIES,
)

# Slice kinds in order of preference when scores tie, with the families they skip.
SLICE_KINDS = {
    "address": ("network",),
    "subnet": ("network",),
    "burst": ("timing",),
    "cohort": ("identity", "content"),
}


@dataclass
class Evaluation:
    """A slice scored: each family's deciding measure, and the reasons in words."""

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


def evaluate(poll: Poll, candidate: Candidate) -> Evaluation:
    """Score the slice in every family but those that selected it. A family scores
    its best measure; every measure that scores adds a reason."""
    skipped = SLICE_KINDS[candidate.kind]
    s = Slice.of(poll, candidate.indices)
    families, reasons = [], [candidate.description]
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
    return Evaluation(
        candidate.kind,
        candidate.description,
        candidate.indices,
        families,
        reasons,
        positive,
        strong,
    )


def best_first(evaluations: Iterable[Evaluation]) -> list[Evaluation]:
    """Highest score first; on a tie the preferred kind (SLICE_KINDS), then the larger."""
    kinds = list(SLICE_KINDS)
    return sorted(evaluations, key=lambda e: (-e.score, kinds.index(e.kind), -len(e.indices)))


def co_selection(
    poll: Poll,
    totals: dict[int, int],
    evaluations: dict[int, list[Evaluation]],
    verdicts: dict[int, str],
) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """Tell decoys from targets; updates `verdicts`. Returns (riders per case, hosts
    per case)."""

    def share(number: int, evaluation: Evaluation) -> float:
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
            and evaluate(poll, Candidate(e.kind, e.description, rest)).verdict == FLAGGED
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


def case_reasons(
    deciding: Evaluation | None, verdict: str, riders: list[int], hosts: list[int]
) -> list[str]:
    """The deciding slice's reasons, with what the verdict rests on: the co-selection
    first, or the conclusion last; and the cases riding on its slice."""
    reasons = list(deciding.reasons) if deciding else []
    if verdict == CO_SELECTED:
        reasons.insert(0, text.co_selected_reason(hosts))
    elif deciding is not None and verdict != CLEAN:
        reasons.append(text.conclusion(deciding.positive, deciding.strong))
    if riders:
        reasons.append(text.riders_reason(riders))
    return reasons
