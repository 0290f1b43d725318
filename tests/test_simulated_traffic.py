"""The simulator's traffic kind by kind, built in memory: each trap and attack looks like
what it imitates, every ballot of every kind is one the site would accept, and asking
for the newer kinds changes nothing of the others.

Polls come from `simulate_records` with every trap and attack over a small honest
background; no test here touches the database (pytest-django would refuse it). A poll
is built once per seed and offer and reused by the tests that only read it.
"""

import statistics
from collections import Counter, defaultdict
from datetime import timedelta
from functools import cache

import pytest
from django.conf import settings

from ballots.detection import BallotRecord
from tests.conftest import SHANGHAI, SIMULATION_DAYS, SIMULATION_END
from tools.simulation import (
    ALL_ATTACKS,
    ALL_TRAPS,
    ATTACKS,
    TRAPS,
    Offer,
    Scenario,
    simulate_records,
)

CASES = tuple(range(31, 61))
OFFER = Offer(cases=CASES, min_choices=1, max_choices=8)
ONCE = Offer(cases=CASES, min_choices=1, max_choices=5, frequency="once")
AT_LEAST_TWO = Offer(cases=CASES, min_choices=2, max_choices=3)
BALLOTS = 1_000
SEEDS = (1, 2)
START = SIMULATION_END - timedelta(days=SIMULATION_DAYS)
HOUR = 3_600


@cache
def poll(
    seed: int, offer: Offer = OFFER, attacks=ALL_ATTACKS, traps=ALL_TRAPS
) -> tuple[Scenario, list[BallotRecord]]:
    return simulate_records(
        offer,
        seed=seed,
        attacks=attacks,
        traps=traps,
        ballots=BALLOTS,
        days=SIMULATION_DAYS,
        end=SIMULATION_END,
    )


def kind(seed: int, name: str) -> tuple[Scenario, list[BallotRecord]]:
    """The scenario and the ballots of one kind in the full poll of `seed`."""
    scenario, records = poll(seed)
    ids = set(scenario.ballot_ids[name])
    return scenario, [r for r in records if r.id in ids]


def dwell(record: BallotRecord) -> float:
    return (record.cast_at - record.form_served_at).total_seconds()


def lead(record: BallotRecord) -> float:
    """Seconds from following to the form being served."""
    return (record.form_served_at - record.followed_at).total_seconds()


def local(record: BallotRecord):
    return record.cast_at.astimezone(SHANGHAI)


def busiest_hour(records: list[BallotRecord]) -> int:
    """The most of these ballots in any hour, as the site's budget counts them."""
    times = sorted(r.cast_at.timestamp() for r in records)
    busiest, first = 0, 0
    for last, moment in enumerate(times):
        while times[first] < moment - HOUR:
            first += 1
        busiest = max(busiest, last - first + 1)
    return busiest


def by(records: list[BallotRecord], field: str) -> dict[str, list[BallotRecord]]:
    groups: dict[str, list[BallotRecord]] = defaultdict(list)
    for record in records:
        groups[getattr(record, field)].append(record)
    return groups


def new_follower_share(records: list[BallotRecord]) -> float:
    """Followers who followed within an hour of their first ballot's form."""
    first = {}
    for record in sorted(records, key=lambda r: r.cast_at):
        first.setdefault(record.follower_id, record)
    return sum(lead(r) < HOUR for r in first.values()) / len(first)


def single_share(records: list[BallotRecord]) -> float:
    return sum(len(r.cases) == 1 for r in records) / len(records)


# --- Every kind ----------------------------------------------------------------------


@pytest.mark.parametrize(("seed", "offer"), [(1, OFFER), (2, OFFER), (3, ONCE), (4, AT_LEAST_TWO)])
def test_every_ballot_of_every_kind_is_one_the_site_would_accept(seed, offer):
    scenario, records = poll(seed, offer)

    assert set(scenario.counts) == {"honest", *ALL_TRAPS, *ALL_ATTACKS}
    assert len(records) == scenario.total == len({r.id for r in records})
    assert [(r.cast_at, r.id) for r in records] == sorted((r.cast_at, r.id) for r in records)
    periods = Counter(
        (r.follower_id, "campaign" if offer.frequency == "once" else local(r).date())
        for r in records
    )
    assert max(periods.values()) == 1
    for record in records:
        assert record.cast_at.tzinfo == SHANGHAI
        assert START <= record.cast_at < SIMULATION_END
        assert settings.CASEVOTE_MIN_DWELL_SECONDS <= dwell(record)
        assert dwell(record) <= settings.CASEVOTE_FORM_MAX_AGE
        assert record.followed_at < record.form_served_at
        assert offer.min_choices <= len(record.cases) <= offer.max_choices
        assert list(record.cases) == sorted(set(record.cases))
        assert set(record.cases) <= set(offer.cases)
        assert record.ip_network and record.ip_subnet and record.user_agent and record.device_id
    # The site's hourly budgets per address and per /24. The village trap is older than
    # this check: its one Wi-Fi can go over the address budget, and it is kept as it was
    # so that the default polls do not change.
    wifi = set(scenario.ballot_ids["village"])
    village = {r.ip_network for r in records if r.id in wifi}
    for address, ballots in by(records, "ip_network").items():
        if address not in village:
            assert busiest_hour(ballots) <= settings.CASEVOTE_IP_HOURLY_BUDGET, address
    for subnet, ballots in by(records, "ip_subnet").items():
        assert busiest_hour(ballots) <= settings.CASEVOTE_SUBNET_HOURLY_BUDGET, subnet


def test_each_case_plays_one_role_and_the_scenario_names_them_all():
    scenario, _ = poll(1)

    roles = [*scenario.targets.values(), *scenario.trap_cases.values()]
    assert len(roles) == len(set(roles)) == len(ALL_ATTACKS) + len(ALL_TRAPS)
    assert scenario.trap_cases["village"] == scenario.village_case
    assert scenario.trap_cases["viral"] == scenario.viral_case
    assert scenario.decoys_of["residential"] == scenario.popularity[:2]
    assert scenario.decoys_of["farm"] == scenario.popularity[: len(scenario.decoys_of["farm"])]
    assert not set(roles) & set(scenario.decoys)
    assert scenario.decoys == list(
        dict.fromkeys(scenario.decoys_of["farm"] + scenario.decoys_of["residential"])
    )
    assert all(not scenario.decoys_of[a] for a in ALL_ATTACKS if a not in ("farm", "residential"))


@pytest.mark.parametrize("seed", SEEDS)
def test_the_newer_kinds_change_nothing_of_the_others(seed):
    default, records = poll(seed, OFFER, ATTACKS, TRAPS)
    everything, all_records = poll(seed)

    # The older kinds are generated first, so even their ids stay the same.
    known = {r.id: r for r in all_records}
    assert [known[r.id] for r in records] == records
    assert {k: everything.ballot_ids[k] for k in default.ballot_ids} == default.ballot_ids
    assert {a: everything.targets[a] for a in ATTACKS} == default.targets
    assert everything.popularity == default.popularity
    assert everything.decoys_of["farm"] == default.decoys == default.decoys_of["farm"]
    assert everything.trap_cases["village"] == default.village_case
    assert everything.trap_cases["viral"] == default.viral_case
    # A newer kind is the same beside one other kind as beside all of them, but for
    # the rare home line whose /24 another kind took first: it moves to the next one.
    pair, pair_records = poll(seed, OFFER, ("residential",), ("campus",))
    assert set(pair.counts) == {"honest", "residential", "campus"}
    assert pair.trap_cases == {"campus": everything.trap_cases["campus"]}
    for name in ("residential", "campus"):
        ids = set(pair.ballot_ids[name])
        alone = [r for r in pair_records if r.id in ids]
        beside_all = kind(seed, name)[1]
        assert [unplaced(r) for r in alone] == [unplaced(r) for r in beside_all], name
        moved = sum(a.ip_network != b.ip_network for a, b in zip(alone, beside_all, strict=True))
        assert moved <= 0.02 * len(alone), name


def test_the_same_seed_gives_the_same_poll_and_another_seed_another():
    again = simulate_records(
        OFFER,
        seed=1,
        attacks=ALL_ATTACKS,
        traps=ALL_TRAPS,
        ballots=BALLOTS,
        days=SIMULATION_DAYS,
        end=SIMULATION_END,
    )

    assert again == poll(1)
    assert [strip(r) for r in poll(2)[1]] != [strip(r) for r in poll(1)[1]]


def strip(record: BallotRecord) -> tuple:
    """A record without its ids, which depend on what was generated before it."""
    return (record.ip_network, record.ip_subnet, *unplaced(record))


def unplaced(record: BallotRecord) -> tuple:
    """A record without its ids and its address."""
    return (
        record.cast_at,
        record.followed_at,
        record.user_agent,
        record.device_id,
        record.form_served_at,
        record.cases,
        record.unfollowed_at,
    )


# --- Traps -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_workplace_is_one_weekday_mornings_staff_behind_one_office_nat(seed):
    scenario, ballots = kind(seed, "workplace")

    assert 120 <= len(ballots) <= 250
    assert (
        len({r.follower_id for r in ballots}) == len({r.device_id for r in ballots}) == len(ballots)
    )
    assert len({r.user_agent for r in ballots}) > 40  # their own phones
    moments = [local(r) for r in ballots]
    assert len({m.date() for m in moments}) == 1 and moments[0].weekday() < 5
    assert all(8.5 <= m.hour + m.minute / 60 < 10.5 for m in moments)
    assert len({r.ip_subnet for r in ballots}) == 1
    assert 1 <= len({r.ip_network for r in ballots}) <= 2
    for ballots_of_address in by(ballots, "ip_network").values():
        assert busiest_hour(ballots_of_address) <= settings.CASEVOTE_IP_HOURLY_BUDGET
    assert 0.35 <= new_follower_share(ballots) <= 0.65
    assert 0.25 <= single_share(ballots) <= 0.55
    assert all(scenario.trap_cases["workplace"] in r.cases for r in ballots)
    assert statistics.median(dwell(r) for r in ballots) > 15  # reading it for the first time


@pytest.mark.parametrize("seed", SEEDS)
def test_loyal_voters_vote_on_most_days_at_their_hour_on_the_same_phone(seed):
    scenario, ballots = kind(seed, "loyal")
    voters = by(ballots, "follower_id")

    assert 60 <= len(voters) <= 120
    days = [len({local(r).date() for r in mine}) for mine in voters.values()]
    assert statistics.mean(days) >= 0.8 * SIMULATION_DAYS
    assert sum(n >= 3 for n in days) >= 0.9 * len(days)
    for mine in voters.values():
        assert len({(r.user_agent, r.device_id) for r in mine}) == 1
        hours = [local(r).hour + local(r).minute / 60 for r in mine]
        assert max(hours) - min(hours) <= 2
        assert all(7 <= hour < 23 for hour in hours)
        assert all(r.followed_at < START for r in mine)
    assert 0.7 <= single_share(ballots) <= 0.9
    assert all(scenario.trap_cases["loyal"] in r.cases for r in ballots)
    assert 5.5 <= statistics.median(dwell(r) for r in ballots) <= 9  # they know the page


@pytest.mark.parametrize("seed", SEEDS)
def test_province_voters_use_only_their_provinces_networks(seed):
    scenario, ballots = kind(seed, "province")
    _, honest = poll(seed)

    assert 600 <= len(ballots) <= 1_000
    assert len({local(r).date() for r in ballots}) == SIMULATION_DAYS
    assert all(scenario.trap_cases["province"] in r.cases for r in ballots)
    v4 = {".".join(r.ip_network.split(".")[:2]) for r in ballots if "." in r.ip_network}
    v6 = {r.ip_subnet for r in ballots if ":" in r.ip_network}
    assert len(v4) <= 6 and len(v6) <= 3  # one NAT region, three /16s of home lines
    everywhere = {".".join(r.ip_network.split(".")[:2]) for r in honest if "." in r.ip_network}
    assert len(everywhere) > 10 * len(v4)
    assert 0.2 <= new_follower_share(ballots) <= 0.4
    assert len({r.device_id for r in ballots}) == len({r.follower_id for r in ballots})


@pytest.mark.parametrize("seed", SEEDS)
def test_campus_students_vote_over_two_evenings_through_a_few_nat_addresses(seed):
    scenario, ballots = kind(seed, "campus")
    students = by(ballots, "follower_id")

    assert 300 <= len(students) <= 500
    assert len(ballots) > len(students)  # some vote again the next evening
    assert max(len(mine) for mine in students.values()) == 2
    moments = [local(r) for r in ballots]
    assert len({m.date() for m in moments}) == 2
    assert all(19.5 <= m.hour + m.minute / 60 < 23.5 for m in moments)
    assert 2 <= len({r.ip_subnet for r in ballots}) <= 4
    assert len({r.ip_network for r in ballots}) <= 12
    for ballots_of_address in by(ballots, "ip_network").values():
        assert busiest_hour(ballots_of_address) <= settings.CASEVOTE_IP_HOURLY_BUDGET
    agents = {r.user_agent for r in ballots}
    assert len(agents) <= 30
    assert all("MicroMessenger/8.0.4" in agent for agent in agents)
    assert 0.6 <= new_follower_share(ballots) <= 0.8
    assert 0.4 <= single_share(ballots) <= 0.6
    assert all(scenario.trap_cases["campus"] in r.cases for r in ballots)


# --- Attacks ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_residential_farm_rotates_home_lines_with_two_user_agents_and_a_decoy(seed):
    scenario, ballots = kind(seed, "residential")
    target, decoys = scenario.targets["residential"], scenario.decoys_of["residential"]

    assert max(300, 0.08 * BALLOTS) <= len(ballots) <= max(300, 0.12 * BALLOTS)
    assert len({r.user_agent for r in ballots}) == 2
    assert all("MicroMessenger" in r.user_agent for r in ballots)
    for field in ("follower_id", "device_id", "ip_network"):
        assert len({getattr(r, field) for r in ballots}) == len(ballots), field
    assert len({r.ip_subnet for r in ballots}) > 150
    assert all(2.5 <= dwell(r) <= 6 for r in ballots)
    assert all(30 <= lead(r) <= 90 for r in ballots)
    assert all(len(r.cases) == 2 and target in r.cases for r in ballots)
    assert {c for r in ballots for c in r.cases} == {target, *decoys}
    assert 2 <= len({local(r).date() for r in ballots}) <= 3
    assert sum(8 <= local(r).hour < 23 for r in ballots) > 0.8 * len(ballots)  # not at night
    assert scenario.popularity.index(target) >= len(scenario.popularity) // 3


@pytest.mark.parametrize("seed", SEEDS)
def test_small_attack_adds_a_tenth_or_so_to_a_popular_case_one_afternoon(seed):
    scenario, ballots = kind(seed, "small")
    _, records = poll(seed)
    target = scenario.targets["small"]
    others = sum(target in r.cases for r in records) - len(ballots)

    assert 2 <= scenario.popularity.index(target) <= 5  # rank 3 to 6
    assert target not in scenario.decoys
    assert 0.10 * others - 1 <= len(ballots) <= 0.15 * others + 1
    assert all(r.cases == (target,) for r in ballots)
    assert len({r.user_agent for r in ballots}) <= 3
    assert (
        len({r.follower_id for r in ballots}) == len({r.device_id for r in ballots}) == len(ballots)
    )
    assert all(3 <= dwell(r) <= 8 and 30 <= lead(r) <= 120 for r in ballots)
    moments = sorted(local(r) for r in ballots)
    assert moments[-1] - moments[0] <= timedelta(hours=4)
    assert moments[0].hour >= 13 and moments[-1].hour < 19


@pytest.mark.parametrize("seed", SEEDS)
def test_stealth_farm_is_people_who_vote_like_supporters(seed):
    scenario, ballots = kind(seed, "stealth")
    people = by(ballots, "follower_id")
    target = scenario.targets["stealth"]

    assert 55 <= len(people) <= 65
    assert 200 <= len(ballots) <= 300
    for mine in people.values():
        assert len({(r.user_agent, r.device_id, r.ip_network) for r in mine}) == 1
        assert all(timedelta(days=30) <= START - r.followed_at <= timedelta(days=300) for r in mine)
    assert len({r.ip_subnet for r in ballots}) == len(people)  # a home line each
    assert all(target in r.cases and 2 <= len(r.cases) <= 4 for r in ballots)
    assert statistics.median(dwell(r) for r in ballots) > 10
