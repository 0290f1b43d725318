"""Scoring a suspect slice and deciding a case: flagged, watch, co-selected or clean.

The design says "flag a case when a slice is strong in ≥ 3 families (one of them
strong); watch at 2", which cannot be read literally. Interpretation: a slice with
evidence (score ≥ 1) in ≥ FLAG_MIN_FAMILIES families, at least FLAG_MIN_STRONG of
them strong (2), flags its case; evidence in ≥ WATCH_MIN_FAMILIES families (or in 3
without a strong one) means watch; else clean. The measures that read what
selected the slice are not scored on it (`Candidate.skips`), and a family left
without measures is skipped. A case's verdict is that of its best slice (highest
score), the deciding slice.

Farms add popular cases as camouflage. A flagged case C is co-selected when it
rides in a flagged slice of another case P — C is on ≥ CO_SELECTED_MIN_SHARE of
that slice's ballots and on ≥ CO_SELECTED_MIN_LIFT × its share of the other
ballots (a farm may spread its cover over two or three popular cases, and popular
cases are on many ballots anyway), and the slice inflates C much less than P (slice ballots per
vote the case has without them: < CO_SELECTED_SHARE_RATIO × P's) — and none of C's
flagged slices is still flagged once P's slices are taken out of it. A case that is
not flagged itself but rides on the deciding slice of a flagged case is co-selected
as well.
"""

from collections.abc import Iterable
from dataclasses import dataclass, replace

from ballots.detection import text
from ballots.detection.measures import Slice, measure
from ballots.detection.poll import Poll
from ballots.detection.records import CLEAN, CO_SELECTED, FAMILIES, FLAGGED, WATCH, FamilyScore
from ballots.detection.selectors import SELECTED_BY, Candidate
from ballots.detection.thresholds import (
    CO_SELECTED_MIN_LIFT,
    CO_SELECTED_MIN_SHARE,
    CO_SELECTED_SHARE_RATIO,
    FLAG_MIN_FAMILIES,
    FLAG_MIN_STRONG,
    SLICE_MIN_BALLOTS,
    WATCH_MIN_FAMILIES,
)


@dataclass
class Evaluation:
    """A slice scored: each family's deciding measure, and the reasons in words."""

    candidate: Candidate
    families: list[FamilyScore]
    reasons: list[str]
    positive: int  # families with evidence (score ≥ 1)
    strong: int  # families scoring 2

    @property
    def kind(self) -> str:
        return self.candidate.kind

    @property
    def description(self) -> str:
        return self.candidate.description

    @property
    def indices(self) -> list[int]:
        return self.candidate.indices

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
    """Score the slice on every measure but those that read what selected it; a family
    left without measures is skipped. A family scores its best measure; every measure
    that scores adds a reason."""
    s = Slice.of(poll, candidate.case, candidate.indices)
    families, reasons = [], [candidate.description]
    positive = strong = 0
    for name in FAMILIES:
        found = measure(name, s, candidate.skips)
        if not found:
            families.append(
                FamilyScore(name, None, None, None, 0, metric=text.SKIPPED_METRIC, skipped=True)
            )
            continue
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
        candidate,
        families,
        reasons,
        positive,
        strong,
    )


def best_first(evaluations: Iterable[Evaluation]) -> list[Evaluation]:
    """The most serious verdict first; then the highest score; then the slice the rest
    of the poll explains least (the smallest expected share: the fewest honest ballots
    to void with it), the preferred kind (SELECTED_BY), the larger."""
    kinds = list(SELECTED_BY)
    return sorted(
        evaluations,
        key=lambda e: (
            VERDICT_RANK[e.verdict],
            -e.score,
            e.candidate.expected / len(e.indices),
            kinds.index(e.kind),
            -len(e.indices),
        ),
    )


VERDICT_RANK = {FLAGGED: 0, WATCH: 1, CLEAN: 2}


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
    riders = {id(e): _riders(poll, totals, e) for slices in flagged.values() for e in slices}
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
            and evaluate(poll, replace(e.candidate, indices=rest)).verdict == FLAGGED
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


def _riders(poll: Poll, totals: dict[int, int], evaluation: Evaluation) -> set[int]:
    """The cases on ≥ CO_SELECTED_MIN_SHARE of a slice's ballots, and on ≥
    CO_SELECTED_MIN_LIFT times the share of the other ballots that they are on."""
    size = len(evaluation.indices)
    rest = poll.size - size
    counts = poll.case_counts(evaluation.indices)
    return {
        number
        for number, count in counts.items()
        if count >= CO_SELECTED_MIN_SHARE * size
        and (not rest or count / size >= CO_SELECTED_MIN_LIFT * (totals[number] - count) / rest)
    }


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
