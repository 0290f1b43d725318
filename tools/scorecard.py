"""The brushing detector's scorecard: every attack against every honest trap, over seeds.

The design (../shared/design/vote-integrity.md, "Testing it") asks for several
seeds and a report of what was flagged. A poll that holds every attack at once
says little about one of them (a family can hide behind another's slice), so the
scorecard builds one small poll per cell: one attack family × one honest trap ×
one seed, simulated in memory (`tools.simulation.simulate_records`, no database)
and read by `ballots.detection.detect`. Per attack it reports the recall and the
weakest margin over the flag bar; per trap its false alarms and the strongest
margin under it; the decoys a farm adds must come out co-selected, and no other
case may be flagged.

Seeds. The thresholds (`ballots.detection.thresholds`) may be tuned while looking
at TUNING_SEEDS only; JUDGED_SEEDS are never looked at while tuning, so the
scorecard over them measures the detector on polls it was not fitted to. The tests
use the tuning seeds; the command defaults to the judged ones.

The human-paced stealth farm is measured like every attack but reported as the
expected miss it is (EXPECTED_MISSES): the detector is not tuned for it, so it does
not count against the target.

Cells run in a process pool (fork: each worker inherits the loaded Django project
and the offer, and is refused any database query). Results are sorted back into
the matrix's order, so the same seeds give the same scorecard apart from timings.
"""

import multiprocessing
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import connections

from ballots.detection import (
    CLEAN,
    CO_SELECTED,
    DETECTOR_VERSION,
    FLAGGED,
    WATCH,
    CaseReport,
    detect,
)
from ballots.detection.thresholds import FLAG_MIN_FAMILIES, FLAG_MIN_STRONG
from tools.simulation import ALL_ATTACKS, ALL_TRAPS, Offer, simulate_records

# Seeds the thresholds may be tuned on, and seeds never looked at while tuning.
TUNING_SEEDS = (1, 2, 3, 4, 5)
JUDGED_SEEDS = (101, 102, 103, 104, 105)
SEED_SETS = {"judged": JUDGED_SEEDS, "tuning": TUNING_SEEDS}
OTHER_SEEDS = "other"  # a list given by hand, neither set exactly

DAYS = 5
DEFAULT_BALLOTS = 4_000  # honest background per cell
MIN_BALLOTS = 500  # fewer make baselines too thin to mean anything
# Every cell's poll ends here (Beijing time), so a cell is the same whenever it runs.
END = datetime(2026, 11, 20, 0, 0, tzinfo=ZoneInfo("Asia/Shanghai"))

# Attacks the detector is expected to miss: measured, reported, not held against it.
EXPECTED_MISSES = ("stealth",)

ATTACK_LABELS = {
    "script": "单一地址脚本",
    "proxy": "轮换代理池",
    "farm": "夜间点击农场",
    "drip": "慢速滴灌",
    "churn": "关注-投票-取关",
    "residential": "分散住宅网络农场（带陪投）",
    "small": "小规模攻击（+10–15%）",
    "stealth": "真人慢速农场（预期漏检）",
}
TRAP_LABELS = {
    "village": "村里共用Wi-Fi",
    "viral": "微信群刷屏的真实走红",
    "workplace": "单位NAT早高峰",
    "loyal": "每日投票的忠实支持者",
    "province": "一省走红",
    "campus": "大学校园",
}


@dataclass(frozen=True, order=True)
class Cell:
    attack: str
    trap: str
    seed: int


@dataclass(frozen=True)
class Margin:
    """A report's deciding slice against the flag bar: families with evidence
    (score ≥ 1) and strong ones (score 2). Flagged at FLAG_MIN_FAMILIES with
    FLAG_MIN_STRONG strong."""

    families: int
    strong: int

    @classmethod
    def of(cls, report: CaseReport | None) -> "Margin":
        if report is None:
            return cls(0, 0)
        return cls(
            families=sum(1 for f in report.families if not f.skipped and f.score >= 1),
            strong=sum(1 for f in report.families if not f.skipped and f.score >= 2),
        )


@dataclass
class CaseOutcome:
    """One case's verdict in a cell, with its margin and the first line of its reasons."""

    case: int
    verdict: str
    margin: Margin
    reason: str = ""

    @classmethod
    def of(cls, number: int, reports: dict[int, CaseReport]) -> "CaseOutcome":
        report = reports.get(number)
        if report is None:  # detect() reports every case it is given; be safe anyway
            return cls(number, CLEAN, Margin(0, 0))
        return cls(
            number, report.verdict, Margin.of(report), report.reasons[0] if report.reasons else ""
        )


@dataclass
class CellResult:
    """One poll of the matrix judged against its ground truth."""

    attack: str
    trap: str
    seed: int
    ballots: int  # records the detector read
    target: CaseOutcome
    trap_case: CaseOutcome
    decoys: list[CaseOutcome]  # "co-selected" also when listed under the target's riders
    background: list[int]  # other cases flagged: false alarms
    attack_ballots: int  # the attack's ballots in the poll...
    attack_in_slice: int  # ...and how many of them the target's deciding slice holds
    simulate_seconds: float
    detect_seconds: float

    @property
    def cell(self) -> Cell:
        return Cell(self.attack, self.trap, self.seed)

    @property
    def caught(self) -> bool:
        return self.target.verdict == FLAGGED

    @property
    def trap_flagged(self) -> bool:
        return self.trap_case.verdict == FLAGGED

    @property
    def decoys_co_selected(self) -> bool:
        return all(d.verdict == CO_SELECTED for d in self.decoys)

    @property
    def decoys_flagged(self) -> list[int]:
        return [d.case for d in self.decoys if d.verdict == FLAGGED]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["caught"] = self.caught
        data["trap_flagged"] = self.trap_flagged
        data["decoys_co_selected"] = self.decoys_co_selected
        return data


def judge(
    reports: Sequence[CaseReport], *, target: int, trap_case: int, decoys: Sequence[int]
) -> tuple[CaseOutcome, CaseOutcome, list[CaseOutcome], list[int]]:
    """The target's, the trap's and each decoy's outcome, and the other flagged cases.

    A decoy is co-selected when its verdict says so or the target's report lists it
    among the cases riding on its slice, unless it is flagged itself (a false alarm).
    """
    by_case = {r.case: r for r in reports}
    riders = set(by_case[target].co_selected) if target in by_case else set()
    decoy_outcomes = []
    for number in decoys:
        outcome = CaseOutcome.of(number, by_case)
        if outcome.verdict != FLAGGED and number in riders:
            outcome.verdict = CO_SELECTED
        decoy_outcomes.append(outcome)
    known = {target, trap_case, *decoys}
    background = sorted(r.case for r in reports if r.verdict == FLAGGED and r.case not in known)
    return (
        CaseOutcome.of(target, by_case),
        CaseOutcome.of(trap_case, by_case),
        decoy_outcomes,
        background,
    )


def run_cell(offer: Offer, cell: Cell, *, ballots: int = DEFAULT_BALLOTS) -> CellResult:
    """Simulate one cell's poll in memory, run the detector on it, judge the reports."""
    started = time.perf_counter()
    scenario, records = simulate_records(
        offer,
        seed=cell.seed,
        attacks=(cell.attack,),
        traps=(cell.trap,),
        days=DAYS,
        ballots=ballots,
        end=END,
    )
    simulated = time.perf_counter()
    reports = detect(records, offer.cases)
    detected = time.perf_counter()

    target_case = scenario.targets[cell.attack]
    decoys = list(scenario.decoys_of.get(cell.attack, ()))
    target, trap_case, decoy_outcomes, background = judge(
        reports,
        target=target_case,
        trap_case=scenario.trap_cases[cell.trap],
        decoys=decoys,
    )
    attack_ids = set(scenario.ballot_ids.get(cell.attack, ()))
    deciding = next((r.slices[0] for r in reports if r.case == target_case and r.slices), None)
    in_slice = len(attack_ids.intersection(deciding.ballot_ids)) if deciding else 0
    return CellResult(
        attack=cell.attack,
        trap=cell.trap,
        seed=cell.seed,
        ballots=len(records),
        target=target,
        trap_case=trap_case,
        decoys=decoy_outcomes,
        background=background,
        attack_ballots=len(attack_ids),
        attack_in_slice=in_slice,
        simulate_seconds=round(simulated - started, 3),
        detect_seconds=round(detected - simulated, 3),
    )


def matrix(attacks: Sequence[str], traps: Sequence[str], seeds: Sequence[int]) -> list[Cell]:
    """Every attack × every trap × every seed, in that order."""
    return [Cell(a, t, s) for a in attacks for t in traps for s in seeds]


# --- Running the matrix ---------------------------------------------------------------


class DatabaseRefused(RuntimeError):
    """A scorecard cell tried to query the database; cells are pure."""


def _refuse_query(execute, sql, params, many, context):
    raise DatabaseRefused(
        "A scorecard cell must not touch the database (a forked worker would share "
        f"the parent's connection): {sql[:80]}"
    )


@contextmanager
def no_database() -> Iterator[None]:
    """Every query on every connection raises DatabaseRefused while it lasts."""
    with ExitStack() as stack:
        for connection in connections.all():
            stack.enter_context(connection.execute_wrapper(_refuse_query))
        yield


_worker: dict = {}


def _start_worker(offer: Offer, ballots: int) -> None:
    """A pool worker: keep the offer, and refuse the database for the worker's life
    (its connections are the parent's, inherited by fork)."""
    _worker["offer"], _worker["ballots"] = offer, ballots
    for connection in connections.all():
        connection.execute_wrappers.append(_refuse_query)


def _run_in_worker(cell: Cell) -> CellResult:
    return run_cell(_worker["offer"], cell, ballots=_worker["ballots"])


def run_cells(
    offer: Offer, cells: Sequence[Cell], *, ballots: int = DEFAULT_BALLOTS, jobs: int = 1
) -> list[CellResult]:
    """Run the cells, in `jobs` processes when more than one, and return their
    results in the cells' order whatever the scheduling."""
    jobs = max(1, min(jobs, len(cells)))
    if jobs == 1:
        with no_database():
            return [run_cell(offer, cell, ballots=ballots) for cell in cells]
    # Fork, so workers start with the project loaded (no django.setup() per worker).
    context = multiprocessing.get_context("fork")
    with context.Pool(jobs, initializer=_start_worker, initargs=(offer, ballots)) as pool:
        # One cell per task (they differ in cost); map returns them in the cells' order
        # whichever worker finishes first.
        return pool.map(_run_in_worker, cells, chunksize=1)


def default_jobs() -> int:
    return os.cpu_count() or 1


# --- Adding it up ---------------------------------------------------------------------


@dataclass
class Place:
    """Where in the matrix something happened: the seed, the attack and the trap."""

    seed: int
    attack: str
    trap: str


@dataclass
class AttackSummary:
    attack: str
    label: str
    expected_miss: bool
    runs: int
    caught: int
    recall: float
    missed: list[Place]
    weakest: Margin | None  # fewest families with evidence (then fewest strong) of its runs
    weakest_at: Place | None
    decoy_runs: int = 0  # runs whose poll has decoys...
    decoys_co_selected: int = 0  # ...where every decoy came out co-selected
    decoys_flagged: int = 0  # ...where a decoy was flagged (a false alarm)
    slice_share: float | None = None  # of its ballots in the target's deciding slice, caught runs


@dataclass
class TrapSummary:
    trap: str
    label: str
    runs: int
    flagged: int
    watch: int
    strongest: Margin | None  # most families with evidence (then most strong) of its runs
    strongest_at: Place | None
    flagged_at: list[Place] = field(default_factory=list)


@dataclass
class BackgroundAlarm:
    place: Place
    cases: list[int]


def _place(result: CellResult) -> Place:
    return Place(result.seed, result.attack, result.trap)


def summarise_attack(attack: str, results: Sequence[CellResult]) -> AttackSummary:
    runs = [r for r in results if r.attack == attack]
    caught = [r for r in runs if r.caught]
    # On a tie, the first in the matrix's order.
    weakest = min(runs, key=lambda r: (r.target.margin.families, r.target.margin.strong))
    with_decoys = [r for r in runs if r.decoys]
    attack_ballots = sum(r.attack_ballots for r in caught)
    return AttackSummary(
        attack=attack,
        label=ATTACK_LABELS.get(attack, attack),
        expected_miss=attack in EXPECTED_MISSES,
        runs=len(runs),
        caught=len(caught),
        recall=round(len(caught) / len(runs), 4),
        missed=[_place(r) for r in runs if not r.caught],
        weakest=weakest.target.margin,
        weakest_at=_place(weakest),
        decoy_runs=len(with_decoys),
        decoys_co_selected=sum(1 for r in with_decoys if r.decoys_co_selected),
        decoys_flagged=sum(1 for r in with_decoys if r.decoys_flagged),
        slice_share=(
            round(sum(r.attack_in_slice for r in caught) / attack_ballots, 4)
            if attack_ballots
            else None
        ),
    )


def summarise_trap(trap: str, results: Sequence[CellResult]) -> TrapSummary:
    runs = [r for r in results if r.trap == trap]
    strongest = max(runs, key=lambda r: (r.trap_case.margin.families, r.trap_case.margin.strong))
    return TrapSummary(
        trap=trap,
        label=TRAP_LABELS.get(trap, trap),
        runs=len(runs),
        flagged=sum(1 for r in runs if r.trap_flagged),
        watch=sum(1 for r in runs if r.trap_case.verdict == WATCH),
        strongest=strongest.trap_case.margin,
        strongest_at=_place(strongest),
        flagged_at=[_place(r) for r in runs if r.trap_flagged],
    )


@dataclass
class Scorecard:
    seeds: list[int]
    seeds_kind: str  # "judged", "tuning" or OTHER_SEEDS
    ballots: int
    attacks: list[AttackSummary]
    traps: list[TrapSummary]
    background: list[BackgroundAlarm]
    cells: list[CellResult]
    batch: int | None = None
    days: int = DAYS
    end: datetime = END
    detector_version: str = DETECTOR_VERSION
    flag_bar: Margin = field(default_factory=lambda: Margin(FLAG_MIN_FAMILIES, FLAG_MIN_STRONG))

    @property
    def background_alarms(self) -> int:
        return sum(len(alarm.cases) for alarm in self.background)

    @property
    def failures(self) -> list[str]:
        """What keeps the target from being met, one line each (empty when it is)."""
        lines = []
        for summary in self.attacks:
            if summary.expected_miss:
                continue
            if summary.missed:
                lines.append(
                    f"{summary.attack} {summary.label}：漏检 {len(summary.missed)}/{summary.runs} 次"
                    f"（{grouped(summary.missed, 'trap')}）"
                )
            if summary.decoys_co_selected < summary.decoy_runs:
                lines.append(
                    f"{summary.attack} {summary.label}：陪投案例只有 {summary.decoys_co_selected}/"
                    f"{summary.decoy_runs} 次全部判为陪投"
                    + (
                        f"，{summary.decoys_flagged} 次有陪投被标记"
                        if summary.decoys_flagged
                        else ""
                    )
                )
        for summary in self.traps:
            if summary.flagged:
                lines.append(
                    f"陷阱 {summary.trap} {summary.label}：误报 {summary.flagged}/{summary.runs} 次"
                    f"（{grouped(summary.flagged_at, 'attack')}）"
                )
        for alarm in self.background:
            lines.append(
                f"背景误报：{place_text(alarm.place)} 标记了案例 "
                + "、".join(f"{n:03d}" for n in alarm.cases)
            )
        return lines

    @property
    def target_met(self) -> bool:
        return not self.failures

    def to_dict(self, generated_at: datetime | None = None) -> dict:
        """The JSON written by `evaluate_detector`: the summaries first, every cell after."""
        return {
            "detector_version": self.detector_version,
            "batch": self.batch,
            "seeds": self.seeds,
            "seeds_kind": self.seeds_kind,
            "ballots": self.ballots,
            "days": self.days,
            "end": self.end.isoformat(),
            "flag_bar": asdict(self.flag_bar),
            "target_met": self.target_met,
            "failures": self.failures,
            "attacks": [asdict(s) for s in self.attacks],
            "traps": [asdict(s) for s in self.traps],
            "background_false_alarms": self.background_alarms,
            "background": [asdict(b) for b in self.background],
            "cells": [r.to_dict() for r in self.cells],
            "timings": {
                "cells": len(self.cells),
                "simulate_seconds": round(sum(r.simulate_seconds for r in self.cells), 3),
                "detect_seconds": round(sum(r.detect_seconds for r in self.cells), 3),
            },
            "generated_at": generated_at.isoformat() if generated_at else None,
        }


def summarise(
    results: Sequence[CellResult],
    *,
    seeds: Sequence[int],
    ballots: int,
    batch: int | None = None,
) -> Scorecard:
    attacks = list(dict.fromkeys(r.attack for r in results))
    traps = list(dict.fromkeys(r.trap for r in results))
    return Scorecard(
        seeds=list(seeds),
        seeds_kind=seeds_kind(seeds),
        ballots=ballots,
        attacks=[summarise_attack(a, results) for a in attacks],
        traps=[summarise_trap(t, results) for t in traps],
        background=[BackgroundAlarm(_place(r), r.background) for r in results if r.background],
        cells=list(results),
        batch=batch,
    )


def scorecard(
    offer: Offer,
    *,
    seeds: Sequence[int] = JUDGED_SEEDS,
    attacks: Sequence[str] = ALL_ATTACKS,
    traps: Sequence[str] = ALL_TRAPS,
    ballots: int = DEFAULT_BALLOTS,
    jobs: int = 1,
    batch: int | None = None,
) -> Scorecard:
    """The whole matrix, run and summed up."""
    results = run_cells(offer, matrix(attacks, traps, seeds), ballots=ballots, jobs=jobs)
    return summarise(results, seeds=seeds, ballots=ballots, batch=batch)


def seeds_kind(seeds: Sequence[int]) -> str:
    """The seeds' kind: "judged" or "tuning" when all are of that set, else OTHER_SEEDS."""
    for kind, known in SEED_SETS.items():
        if seeds and set(seeds) <= set(known):
            return kind
    return OTHER_SEEDS


def place_text(place: Place) -> str:
    """A place in the matrix as words: "种子 3 × script × village"."""
    return f"种子 {place.seed} × {place.attack} × {place.trap}"


def grouped(found: Sequence[Place], by: str) -> str:
    """Places as words, their seeds grouped by `by` ("attack" or "trap"), in the
    order found: "village 种子 1、2、5；viral 种子 3"."""
    seeds: dict[str, list[int]] = {}
    for place in found:
        seeds.setdefault(getattr(place, by), []).append(place.seed)
    return "；".join(f"{key} 种子 {'、'.join(map(str, numbers))}" for key, numbers in seeds.items())
