"""Synthetic vote traffic: honest voters, traps and attacks, with ground truth.

The brushing detector (`ballots.detection`) is only as good as the traffic it was
tried on, so this module makes a poll the way the design describes it
(../shared/design/vote-integrity.md, "Testing it"): several days of honest votes on
a diurnal curve, traps that look odd but are honest, and the attacks the detector
must catch. `Scenario` says which case each trap and attack played, so a detector's
precision and recall can be measured.

Traps (honest, must not be flagged); the default ones are `TRAPS`:
- village: one village Wi-Fi, one evening, after the chief's message;
- viral: a case in the news, thousands of new voters over an afternoon;
- workplace: the staff behind one office NAT on a weekday morning, after the boss's
  message, half of them following first;
- loyal: residents who vote for their case every day at their habit hour, quickly;
- province: a case popular in one province, on that province's networks only;
- campus: students over two evenings through the campus network's few NAT addresses.

Attacks (must be flagged, but "stealth"); the default ones are `ATTACKS`:
- script: one address, one user agent, a ballot every ~40 s, single-choice;
- proxy: a rotating datacenter proxy pool, accounts followed seconds before;
- farm: a night click farm, a room of phones, the target with popular decoys;
- drip: a few ballots an hour around the clock for days;
- churn: paid voters who follow, vote and unfollow within hours;
- residential: a paid "真人投票" job on rotating residential and mobile addresses,
  fresh accounts and devices but two user agents, the target with a popular decoy;
- small: a paid job adding only 10–15 % to a popular case over an afternoon;
- stealth: a human-paced farm of people recruited long ago, expected to slip through.

Two ways out, the same poll for the same seed: `simulate()` writes it to the database
through the models (chunked `bulk_create`, one transaction), and `simulate_records()`
builds the detector's `BallotRecord`s in memory, with no database, for running the
detector over hundreds of polls; `offer_for(batch)` is what the batch gives the latter.
Times are back-dated in Asia/Shanghai, by the site's rules: each ballot row is made by
`ballots.services.new_ballot` (period, Beijing day, address networks, user agent,
receipt code) — the records mode derives the same fields the same way — its cases are
those the site offers (`cases.catalogue`) within its choice limits (`ballots.rules`),
every reader stays on the form as long as the site allows (CASEVOTE_MIN_DWELL_SECONDS
to CASEVOTE_FORM_MAX_AGE), no address casts more ballots in an hour than the site's
budget (CASEVOTE_IP_HOURLY_BUDGET) where a kind shares addresses on purpose, and every
ballot obeys the model's constraints: one ballot per follower per period, the form
served before the cast, unique form nonce and receipt. Every random draw comes from a
`random.Random` seeded from (seed, part) — never the global generator — so honest
traffic does not depend on which traps and attacks are requested, and each case plays
the same role whatever is requested (roles are drawn for all kinds every time). The
first seven traps and attacks draw addresses from one shared generator (see
`RUN_ORDER`); the newer ones have their own and change nothing of the others.
Followers written to the database have `backend="simulated"` and keys naming the
batch, seed and kind (`b2s7-script-00012`), so a second run with the same seed is
refused rather than colliding.

The package: `parameters` holds every figure, `world` the calendar, address pools and
user agents, `traffic` the generators, `sinks` the database and records sinks,
`scenario` the `Offer` and `Scenario`; this module the public API.
"""

from collections.abc import Sequence
from datetime import datetime

from django.conf import settings
from django.db import transaction

from ballots.detection import BallotRecord
from ballots.models import Ballot
from ballots.models import Follower as FollowerModel
from ballots.rules import voting_rules
from cases.catalogue import load as load_catalogue
from cases.models import Batch
from tools.simulation.parameters import (
    ALL_ATTACKS,
    ALL_TRAPS,
    ATTACKS,
    BEIJING,
    CHUNK_SIZE,
    DEFAULT_BALLOTS,
    DEFAULT_DAYS,
    HONEST,
    RUN_ORDER,
    SIMULATED_BACKEND,
    TRAPS,
)
from tools.simulation.scenario import Offer, Scenario, SimulationError, random_for
from tools.simulation.sinks import DatabaseSink, RecordSink, follower_prefix
from tools.simulation.traffic import Simulation, fastest_dwell

__all__ = [
    "ALL_ATTACKS",
    "ALL_TRAPS",
    "ATTACKS",
    "BEIJING",
    "CHUNK_SIZE",
    "DEFAULT_BALLOTS",
    "DEFAULT_DAYS",
    "HONEST",
    "RUN_ORDER",
    "SIMULATED_BACKEND",
    "TRAPS",
    "Offer",
    "Scenario",
    "SimulationError",
    "already_simulated",
    "fastest_dwell",
    "follower_prefix",
    "has_real_ballots",
    "offer_for",
    "random_for",
    "simulate",
    "simulate_records",
]


def offer_for(batch: Batch, end: datetime) -> Offer:
    """The batch's offer as the site decides it when the poll ends: its votable cases
    (`cases.catalogue`) and choice limits (`ballots.rules`)."""
    numbers = tuple(case.number for case in load_catalogue(batch).votable)
    rules = voting_rules(batch, len(numbers), end)
    return Offer(
        cases=numbers,
        min_choices=rules.min_choices,
        max_choices=rules.max_choices,
        frequency=Batch.Frequency(batch.frequency),
        batch=batch.number,
    )


def already_simulated(batch: Batch, seed: int) -> bool:
    return FollowerModel.objects.filter(
        backend=SIMULATED_BACKEND, key__startswith=f"{follower_prefix(batch, seed)}-"
    ).exists()


def has_real_ballots(batch: Batch) -> bool:
    return Ballot.objects.filter(batch=batch).exclude(follower__backend=SIMULATED_BACKEND).exists()


def _check(
    attacks: Sequence[str], traps: Sequence[str], days: int, ballots: int, end: datetime
) -> None:
    """Refuse what cannot be simulated, with a message for the command's user."""
    for names, known, what in ((attacks, ALL_ATTACKS, "攻击"), (traps, ALL_TRAPS, "陷阱")):
        unknown = sorted(set(names) - set(known))
        if unknown:
            raise SimulationError(
                f"未知的{what}类型：{', '.join(unknown)}。可选：{', '.join(known)}。"
            )
    if days < 1 or ballots < 1:
        raise SimulationError("天数和选票数都必须是正整数。")
    if end.tzinfo is None:
        raise SimulationError("结束时间必须带时区。")
    minimum = settings.CASEVOTE_MIN_DWELL_SECONDS
    if fastest_dwell() < minimum:
        raise SimulationError(
            f"本站要求选票表单至少停留 {minimum} 秒（CASEVOTE_MIN_DWELL_SECONDS），"
            f"模拟中最快的只停留 {fastest_dwell()} 秒，本站不会收下这样的选票。"
        )


def simulate(
    batch: Batch,
    *,
    seed: int,
    attacks: Sequence[str] = ATTACKS,
    traps: Sequence[str] = TRAPS,
    days: int = DEFAULT_DAYS,
    ballots: int = DEFAULT_BALLOTS,
    end: datetime,
    chunk_size: int = CHUNK_SIZE,
) -> Scenario:
    """Write a simulated poll for `batch` ending at `end`; all or nothing.

    `ballots` is the honest background (about that many; the traps and attacks come
    on top). Raises SimulationError when the batch cannot hold the scenario or this
    seed was already simulated for it. Checking for real ballots is the caller's
    business (the command refuses without --force).
    """
    _check(attacks, traps, days, ballots, end)
    if already_simulated(batch, seed):
        raise SimulationError(
            f"第{batch.number}批已经用种子 {seed} 模拟过，换一个 --seed（模拟数据不会被删除）。"
        )
    offer = offer_for(batch, end)
    with transaction.atomic():
        sink = DatabaseSink(batch, seed, offer, chunk_size)
        return Simulation(offer, seed, attacks, traps, days, ballots, end, sink).run()


def simulate_records(
    offer: Offer,
    *,
    seed: int,
    attacks: Sequence[str] = ATTACKS,
    traps: Sequence[str] = TRAPS,
    days: int = DEFAULT_DAYS,
    ballots: int = DEFAULT_BALLOTS,
    end: datetime,
) -> tuple[Scenario, list[BallotRecord]]:
    """The same poll as `simulate` would write for a batch with this offer, as the
    detector's records (sorted by cast time, then id), without a database: for
    running the detector over hundreds of polls. Follower and ballot ids count from
    1; `Scenario.ballot_ids` holds the records' ids."""
    _check(attacks, traps, days, ballots, end)
    if offer.frequency not in Batch.Frequency.values:
        raise SimulationError(f"未知的投票频率：{offer.frequency}。")
    sink = RecordSink()
    scenario = Simulation(offer, seed, attacks, traps, days, ballots, end, sink).run()
    return scenario, sink.records
