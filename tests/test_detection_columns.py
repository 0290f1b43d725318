"""The detector's compact columns (ballots/detection/columns.py) hold what the records
hold: the same ballots in the same order, the same facts, the same groupings.

The detector used to index `BallotRecord`s directly; it now reads `Columns` (arrays of
numbers, strings as codes). These tests compare the columnar poll with what the plain
records say, computed here the way the detector computed it before, on a simulated
campaign (honest voting, the traps and the attacks), and the database loader
(`load_columns`) with the records loader (`load_records`)."""

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from ballots.detection import BallotRecord, detect
from ballots.detection.columns import BLANK, Columns, Interner, Strings, microseconds, moment
from ballots.detection.poll import Poll
from ballots.detection.thresholds import (
    FAST_DWELL_SECONDS,
    FRESH_FOLLOW_SECONDS,
    QUICK_UNFOLLOW_SECONDS,
    SECONDS_FOLLOW_SECONDS,
    TIME_ZONE,
)
from ballots.evidence import _Positions, case_numbers, load_columns, load_records
from ballots.models import Ballot
from tests.conftest import SIMULATION_DAYS, SIMULATION_END
from tools.simulation import simulate

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(simulation_batch):
    """A simulated campaign in the database: (batch, its records, its case numbers)."""
    simulate(simulation_batch, seed=5, ballots=1_500, days=SIMULATION_DAYS, end=SIMULATION_END)
    return simulation_batch, load_records(simulation_batch), case_numbers(simulation_batch)


def test_the_poll_holds_the_records_facts_in_time_order(campaign):
    _, records, _ = campaign
    ordered = sorted(records, key=lambda r: (r.cast_at, r.id))

    poll = Poll(records)

    assert list(poll.ids) == [r.id for r in ordered]
    assert list(poll.ts) == [r.cast_at.timestamp() for r in ordered]
    assert list(poll.hour) == [int(r.cast_at.timestamp() // 3600) for r in ordered]
    assert list(poll.local_hour) == [r.cast_at.astimezone(TIME_ZONE).hour for r in ordered]
    assert [poll.cast_at(i) for i in range(poll.size)] == [
        r.cast_at.astimezone(TIME_ZONE) for r in ordered
    ]
    lags = [(r.cast_at - r.followed_at).total_seconds() if r.followed_at else None for r in ordered]
    assert [None if lag != lag else lag for lag in poll.follow_lag] == lags  # NaN: unknown
    assert list(poll.fresh) == [lag is not None and lag <= FRESH_FOLLOW_SECONDS for lag in lags]
    assert list(poll.seconds) == [lag is not None and lag < SECONDS_FOLLOW_SECONDS for lag in lags]
    dwell = [(r.cast_at - r.form_served_at).total_seconds() for r in ordered]
    assert list(poll.dwell) == dwell
    assert list(poll.fast) == [d < FAST_DWELL_SECONDS for d in dwell]
    assert list(poll.quick_unfollow) == [
        r.unfollowed_at is not None
        and 0 <= (r.unfollowed_at - r.cast_at).total_seconds() <= QUICK_UNFOLLOW_SECONDS
        for r in ordered
    ]
    assert list(poll.ballot_size) == [len(r.cases) for r in ordered]
    assert any(poll.quick_unfollow) and any(poll.fast) and any(poll.fresh)


def test_the_poll_groups_ballots_as_the_records_do(campaign):
    _, records, _ = campaign
    ordered = sorted(records, key=lambda r: (r.cast_at, r.id))
    by_case, by_network, by_subnet = defaultdict(list), defaultdict(list), defaultdict(list)
    for index, r in enumerate(ordered):
        for number in r.cases:
            by_case[number].append(index)
        if r.ip_network:
            by_network[r.ip_network].append(index)
        if r.ip_subnet:
            by_subnet[r.ip_subnet].append(index)

    poll = Poll(records)
    names = poll.columns

    assert {n: list(indices) for n, indices in poll.by_case.items()} == by_case
    # Groups come in order of first appearance, as the dicts of lists did.
    assert [(names.networks[code], list(group)) for code, group in poll.by_network.items()] == (
        list(by_network.items())
    )
    assert [(names.subnets[code], list(group)) for code, group in poll.by_subnet.items()] == (
        list(by_subnet.items())
    )
    assert all(poll.by_subnet.size(code) == len(g) for code, g in poll.by_subnet.items())
    big = [names.subnets[code] for code, _ in poll.by_subnet.items(30)]
    assert big == [key for key, group in by_subnet.items() if len(group) >= 30] and big
    # One code per distinct string, so counts over codes are counts over strings.
    for column, strings, field in (
        (poll.agent, names.agents, "user_agent"),
        (poll.network, names.networks, "ip_network"),
    ):
        assert [strings[code] for code in column] == [getattr(r, field) for r in ordered]
    assert len(set(poll.device)) == len({r.device_id or f"ballot:{r.id}" for r in ordered})
    some = list(range(0, poll.size, 7))
    assert poll.case_counts(some) == Counter(n for i in some for n in ordered[i].cases)
    assert all(poll.includes(i, n) == (n in ordered[i].cases) for i in some for n in (31, 45))


def test_the_database_loader_gives_the_records_loaders_columns(campaign):
    batch, records, numbers = campaign
    Ballot.objects.filter(pk=records[0].id).update(device_id="")  # a ballot without a cookie

    loaded = load_columns(batch)
    expected = Columns.from_records(load_records(batch))

    for name in (
        "id",
        "cast",
        "follower",
        "followed",
        "unfollowed",
        "served",
        "network",
        "subnet",
        "agent",
    ):
        assert getattr(loaded, name) == getattr(expected, name), name
    # The database numbers device cookies itself: the same ballots share one.
    assert first_seen(loaded.device) == first_seen(expected.device)
    assert sum(code < 0 for code in loaded.device) == 1  # the ballot without a cookie
    assert [loaded.case_sets[c] for c in loaded.cases] == [
        expected.case_sets[c] for c in expected.cases
    ]
    for table in ("networks", "subnets", "agents"):
        assert list(
            map(getattr(loaded, table).__getitem__, range(len(getattr(loaded, table))))
        ) == (list(map(getattr(expected, table).__getitem__, range(len(getattr(expected, table))))))
    assert detect(loaded, numbers) == detect(load_records(batch), numbers)


def first_seen(codes) -> list[int]:
    """Codes renumbered in order of first appearance (negative ones kept)."""
    order: dict[int, int] = {}
    return [code if code < 0 else order.setdefault(code, len(order)) for code in codes]


def test_void_ballots_and_their_choices_are_left_out_unless_asked(campaign):
    batch, records, _ = campaign
    voided = [r.id for r in records[:40]]
    Ballot.objects.filter(pk__in=voided).update(status=Ballot.Status.VOID)

    valid = load_columns(batch)
    everything = load_columns(batch, include_void=True)

    assert len(valid) == len(records) - 40 and not set(voided) & set(valid.id)
    assert len(everything) == len(records)
    named = {
        i: everything.case_sets[c] for i, c in zip(everything.id, everything.cases, strict=True)
    }
    assert all(named[r.id] == r.cases for r in records)


def test_times_are_exact_to_the_microsecond():
    moments = [
        datetime(2026, 11, 30, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(2026, 12, 1, 8, 0, 0, 1, tzinfo=TIME_ZONE),
        datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC),
    ]
    for at in moments:
        us = microseconds(at)
        assert moment(us) == at
        assert us / 1_000_000 == at.timestamp()


def test_strings_are_kept_once_with_blank_first():
    interner = Interner()
    codes = list(interner.codes_of(["10.0.0.1", "", "广州", "10.0.0.1", "x"]))
    table = interner.freeze()

    assert codes == [1, BLANK, 2, 1, 3]
    assert [table[c] for c in range(len(table))] == ["", "10.0.0.1", "广州", "x"]
    assert Strings([""])[0] == ""


def test_ballot_positions_by_id_dense_or_sparse():
    dense = _Positions([5, 3, 4, 9])
    sparse = _Positions([1, 10_000_000, 7])

    assert dense.table is not None and sparse.table is None
    assert [dense.get(i) for i in (5, 3, 4, 9, 6, 2, 10)] == [0, 1, 2, 3, -1, -1, -1]
    assert [sparse.get(i) for i in (1, 10_000_000, 7, 8)] == [0, 1, 2, -1]


def test_a_ballot_without_a_device_cookie_is_a_device_of_its_own():
    start = datetime(2026, 11, 1, 10, tzinfo=UTC)
    records = [
        BallotRecord(
            id=n,
            cast_at=start + timedelta(minutes=n),
            follower_id=n,
            followed_at=None,
            ip_network="",
            ip_subnet="",
            user_agent="UA",
            device_id="" if n < 3 else "shared",
            form_served_at=start,
            cases=(31,),
        )
        for n in range(6)
    ]

    poll = Poll(records)

    assert len(set(poll.device)) == 4  # three of their own, one shared
    assert list(poll.by_network.items()) == [] and list(poll.by_subnet.items()) == []


def test_a_follower_who_changes_device_cookie_is_counted_on_the_last_one():
    """Device reuse counts each follower on the device of their last ballot; an
    earlier ballot's device that no follower ended on counts no accounts (this raised
    KeyError before)."""
    start = datetime(2026, 11, 1, 10, tzinfo=UTC)
    records = [
        BallotRecord(
            id=n,
            cast_at=start + timedelta(hours=n),
            follower_id=n % 40,
            followed_at=start - timedelta(days=3),
            ip_network=f"10.0.{n % 9}.1",
            ip_subnet=f"10.0.{n % 9}.0/24",
            user_agent="Mozilla/5.0 MicroMessenger/8.0",
            device_id=f"old-{n}" if n < 40 else f"new-{n % 40}",
            form_served_at=start + timedelta(hours=n, seconds=-40),
            cases=(31 + n % 3,),
        )
        for n in range(80)
    ]

    reports = detect(records, [31, 32, 33])

    assert sorted(r.total for r in reports) == [26, 27, 27]
