"""`detect`: from the poll's records to one report per case.

Index the poll and its shared traits once; for each case pick its suspect slices
and score them, best first; tell the farms' decoys from their targets across cases; then write each
case's report around its deciding slice.
"""

import gc
from collections.abc import Iterable
from contextlib import contextmanager

from ballots.detection import figures, selectors, text
from ballots.detection.columns import Columns
from ballots.detection.poll import Poll
from ballots.detection.records import (
    CLEAN,
    CO_SELECTED,
    FLAGGED,
    WATCH,
    BallotRecord,
    CaseReport,
    HourBin,
    SuspectSlice,
)
from ballots.detection.traits import TraitTable
from ballots.detection.verdicts import (
    Evaluation,
    best_first,
    case_reasons,
    co_selection,
    evaluate,
)

VERDICT_ORDER = {FLAGGED: 0, CO_SELECTED: 1, WATCH: 2, CLEAN: 3}


def detect(
    records: Columns | Iterable[BallotRecord], case_numbers: Iterable[int]
) -> list[CaseReport]:
    """A report for every case, most suspicious first (flagged, then by score).

    The ballots come as `Columns` (a large poll: `ballots.evidence.load_columns`) or
    as `BallotRecord`s, which are made into columns first; both give the same reports."""
    with _collector_paused():
        return _detect(records, case_numbers)


@contextmanager
def _collector_paused():
    """Pause Python's cyclic garbage collector while detecting, if it was running.

    A large poll is a million tracked records, and every full collection walks them
    all; the detector builds millions of tuples and lists, which set off several
    (profiled over 1,000,000 ballots: 82 s with it, 39 s without). Nothing the
    detector builds holds a reference cycle, so pausing it frees nothing late."""
    running = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if running:
            gc.enable()


def _detect(
    records: Columns | Iterable[BallotRecord], case_numbers: Iterable[int]
) -> list[CaseReport]:
    poll = Poll(records)
    numbers = sorted(set(case_numbers) | set(poll.by_case))
    totals = {number: len(poll.by_case.get(number, [])) for number in numbers}
    focused = selectors.focused(poll)
    table = TraitTable(poll)

    hourly: dict[int, list[HourBin]] = {}
    traits: dict[int, list[tuple[str, str, int, float]]] = {}
    evaluations: dict[int, list[Evaluation]] = {}
    for number in numbers:
        hourly[number], bursts = selectors.hourly(poll, number)
        findings = table.findings(number)
        traits[number] = [
            text.trait_row(table.describe(f), f.observed, f.expected) for f in findings
        ]
        candidates = [
            *selectors.suspect_slices(poll, number, focused, bursts),
            *selectors.trait_slices(table, number, findings),
        ]
        evaluations[number] = best_first(evaluate(poll, c) for c in candidates)

    verdicts = {n: (e[0].verdict if e else CLEAN) for n, e in evaluations.items()}
    co_selected, co_selected_with = co_selection(poll, totals, evaluations, verdicts)

    ranks = figures.ranks(totals)
    reports = [
        _case_report(
            poll,
            number,
            evaluations[number],
            verdict=verdicts[number],
            riders=co_selected[number],
            hosts=co_selected_with[number],
            hourly=hourly[number],
            traits=traits[number],
            totals=totals,
            ranks=ranks,
        )
        for number in numbers
    ]
    reports.sort(key=lambda r: (not r.flagged, -r.score, VERDICT_ORDER[r.verdict], r.case))
    return reports


def _case_report(
    poll: Poll,
    number: int,
    evaluated: list[Evaluation],
    *,
    verdict: str,
    riders: list[int],
    hosts: list[int],
    hourly: list[HourBin],
    traits: list[tuple[str, str, int, float]],
    totals: dict[int, int],
    ranks: dict[int, int],
) -> CaseReport:
    """The evidence describes the deciding slice (the best), or all the case's ballots
    when it has none; the `_without_slice` pair voids the deciding slice's ballots."""
    deciding = evaluated[0] if evaluated else None
    shown = deciding.indices if deciding else poll.by_case.get(number, [])
    without, rank_without = totals[number], ranks[number]
    if deciding:
        removed = poll.case_counts(deciding.indices)
        remaining = {n: total - removed.get(n, 0) for n, total in totals.items()}
        without, rank_without = remaining[number], figures.ranks(remaining)[number]
    return CaseReport(
        case=number,
        verdict=verdict,
        flagged=verdict == FLAGGED,
        score=deciding.score if deciding else 0.0,
        reasons=case_reasons(deciding, verdict, riders, hosts),
        families=deciding.families if deciding else [],
        slices=[_suspect_slice(poll, e) for e in evaluated],
        hourly=hourly,
        top_ips=figures.top_addresses(
            poll, poll.by_network, poll.network, poll.columns.networks, number, shown
        ),
        top_subnets=figures.top_addresses(
            poll, poll.by_subnet, poll.subnet, poll.columns.subnets, number, shown
        ),
        user_agents=len({poll.agent[i] for i in shown}),
        devices=len({poll.device[i] for i in shown}),
        gap_histogram=figures.gap_histogram(poll, shown),
        co_selected=riders,
        co_selected_with=hosts,
        total=totals[number],
        rank=ranks[number],
        total_without_slice=without,
        rank_without_slice=rank_without,
        follow_lag_histogram=figures.follow_lag_histogram(poll, shown),
        traits=traits,
    )


def _suspect_slice(poll: Poll, evaluation: Evaluation) -> SuspectSlice:
    indices = evaluation.indices
    return SuspectSlice(
        kind=evaluation.kind,
        description=evaluation.description,
        ballot_ids=[poll.ids[i] for i in indices],
        start=poll.cast_at(indices[0]),
        end=poll.cast_at(indices[-1]),
        score=evaluation.score,
    )
