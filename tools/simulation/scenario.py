"""What a simulation is asked for and what it answers: the batch's offer, the
ground truth of the poll, and each part's own random generator."""

import random
from dataclasses import dataclass, field
from datetime import datetime

from cases.models import Batch


class SimulationError(Exception):
    """The simulation cannot run as asked; the message says why."""


@dataclass
class Scenario:
    """What was written, and the ground truth a detector is judged against."""

    batch: int
    seed: int
    start: datetime
    end: datetime
    targets: dict[str, int]  # attack name → the case it boosts
    decoys: list[int]  # popular cases the requested attacks add as camouflage (all of them)
    village_case: int  # trap: one Wi-Fi, one evening
    viral_case: int  # trap: a real surge
    counts: dict[str, int]  # ballots written per kind ("honest", "village", "script", …)
    # Per kind, honest excluded: the ballots' primary keys, or the records' ids in
    # `simulate_records`.
    ballot_ids: dict[str, list[int]] = field(default_factory=dict)
    followers: int = 0
    popularity: list[int] = field(default_factory=list)  # case numbers, most popular first
    trap_cases: dict[str, int] = field(default_factory=dict)  # trap name → its case
    decoys_of: dict[str, list[int]] = field(default_factory=dict)  # attack → its decoys

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def attacked_cases(self) -> set[int]:
        return set(self.targets.values())


@dataclass(frozen=True)
class Offer:
    """What the site offers a voter in a batch, all the simulator needs to know of it:
    the cases a ballot may name (in number order: the roles are drawn from this
    order), how many it must and may name, and how often a follower may vote.
    `offer_for` reads it from the database; `simulate_records` needs nothing else."""

    cases: tuple[int, ...]
    min_choices: int
    max_choices: int
    frequency: str = Batch.Frequency.DAILY  # "daily" or "once"
    batch: int = 0  # the batch's number, for the Scenario and messages


def random_for(seed: int, part: str) -> random.Random:
    """An independent, reproducible generator per part of the simulation.

    Not for secrets (these are test data); a string seed is hashed the same way in
    every process, unlike `hash()`.
    """
    return random.Random(f"casevote-simulation:{seed}:{part}")  # noqa: S311
