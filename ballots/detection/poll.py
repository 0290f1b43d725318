"""The poll, indexed once: every per-ballot fact and the baselines slices are compared with.

`Poll` sorts the records by time, computes each ballot's facts once (its hour,
whether it came at night, was single-choice, followed minutes or seconds before,
was followed by an unfollow within a day, came from a non-WeChat browser, how long
its reader stayed on the form, how many cases it names, whether it was in lockstep)
and indexes them by case, address, /24 and hour. A slice is a list of indices into
`Poll.records`. Two kinds of baseline: `shares` compares a per-ballot fact with the
rest of the poll; `sample_crowd` gives the counts (user agents, /24s, devices) of
random samples of the poll as large as the slice, because those counts grow with size.
"""

import heapq
import math
import random
import statistics
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from functools import cached_property
from itertools import accumulate, compress, pairwise, repeat
from operator import add, eq, floordiv, ge, gt, itemgetter, mod, sub, truediv

from ballots.detection.columns import BLANK, MISSING, Columns, moment
from ballots.detection.records import BallotRecord
from ballots.detection.thresholds import (
    CO_CHOSEN_MIN_BALLOTS,
    CO_CHOSEN_TOP,
    FAST_DWELL_SECONDS,
    FRESH_FOLLOW_SECONDS,
    LOCKSTEP_MIN_GROUP,
    LOCKSTEP_MIN_RATIO,
    MEDIAN_STRIDE,
    MIN_GAP_SECONDS,
    MIN_GAPS,
    NIGHT_HOURS,
    OWN_SUBNET_SHARE,
    QUICK_UNFOLLOW_SECONDS,
    SAMPLE_ONCE_VOTERS,
    SAMPLE_REPEATS,
    SAMPLE_SEED,
    SECONDS_FOLLOW_SECONDS,
    TIME_ZONE,
    TOP_SUBNETS,
    TOP_USER_AGENTS,
    WECHAT_MARKER,
)

NAN = float("nan")
HOUR_US = 3_600_000_000
UTC_OFFSET_HOURS = 8  # TIME_ZONE, Asia/Shanghai: UTC+8 all year


class Groups:
    """Ballot indices grouped by a column of codes (addresses, /24s), BLANK left out:
    one array of indices ordered by code, and where each code's run ends. A million
    ballots on as many addresses take 8 bytes each, not a list apiece."""

    def __init__(self, codes: Sequence[int], count: int):
        sizes = array("i", bytes(4 * count))
        for code in codes:
            sizes[code] += 1
        sizes[BLANK] = 0
        self.ends = array("i", accumulate(sizes))
        place = array("i", [0]) + self.ends[:-1]
        self.indices = array("i", bytes(4 * (self.ends[-1] if count else 0)))
        for index, code in enumerate(codes):
            if code != BLANK:
                self.indices[place[code]] = index
                place[code] += 1

    def size(self, code: int) -> int:
        return self.ends[code] - (self.ends[code - 1] if code else 0)

    def __getitem__(self, code: int) -> array:
        """The code's ballots, in time order."""
        return self.indices[self.ends[code] - self.size(code) : self.ends[code]]

    def items(self, minimum: int = 1) -> Iterator[tuple[int, array]]:
        """(code, its ballots) for every code with at least `minimum` ballots, in code
        order (Columns: the order of first appearance)."""
        ends, start = self.ends, 0
        for code, end in enumerate(ends):
            if end - start >= max(minimum, 1):
                yield code, self.indices[start:end]
            start = end


@dataclass
class Crowd:
    """Counts over one ballot per voter: how many user agents, /24s, devices, and how
    concentrated."""

    voters: int
    user_agents: float
    subnets: float
    top_subnet_share: float
    accounts_per_device: float
    own_subnet_share: float
    top_agent_share: float = 0.0  # voters on the TOP_USER_AGENTS commonest user agents


class Poll:
    """The ballots in time order (`Columns`) with every per-ballot fact computed once,
    and the indexes (by case, address, /24, hour) the selectors need.

    Built from `Columns` or from `BallotRecord`s (made into columns). Facts are
    compact columns too: arrays of numbers, and a byte (0/1) per ballot for the
    yes-or-no ones, so a million ballots take tens of megabytes, not hundreds."""

    def __init__(self, ballots: Columns | Iterable[BallotRecord]):
        columns = ballots if isinstance(ballots, Columns) else Columns.from_records(ballots)
        self.columns = columns
        self.size = size = len(columns)
        self.ids = columns.id
        cast = columns.cast
        # Seconds since the epoch: microseconds / 10**6 is exactly datetime.timestamp().
        self.ts = array("d", map(truediv, cast, repeat(1_000_000)))
        # Hour buckets on the epoch: Asia/Shanghai is UTC+8 all year, so they are
        # Beijing clock hours.
        self.hour = array("i", map(int, map(floordiv, self.ts, repeat(3600))))
        self.local_hour = bytearray(
            map(mod, map(add, map(floordiv, cast, repeat(HOUR_US)), repeat(UTC_OFFSET_HOURS)),
                repeat(24))
        )  # fmt: skip
        self.night = bytearray(map(NIGHT_HOURS.__contains__, self.local_hour))
        set_sizes = [len(cases) for cases in columns.case_sets]
        self.ballot_size = array("i", map(set_sizes.__getitem__, columns.cases))
        self.single = bytearray(map(eq, self.ballot_size, repeat(1)))
        # NaN where the follow time is not known.
        self.follow_lag = array(
            "d",
            (
                (c - f) / 1_000_000 if f != MISSING else NAN
                for c, f in zip(cast, columns.followed, strict=True)
            ),
        )
        self.fresh = bytearray(map(ge, repeat(FRESH_FOLLOW_SECONDS), self.follow_lag))
        self.seconds = bytearray(map(gt, repeat(SECONDS_FOLLOW_SECONDS), self.follow_lag))
        # Unfollowed 0–QUICK_UNFOLLOW_SECONDS after this ballot (an unfollow before it
        # was followed by a re-follow, so it is not this ballot's).
        self.quick_unfollow = bytearray(
            u != MISSING and 0 <= (u - c) / 1_000_000 <= QUICK_UNFOLLOW_SECONDS
            for c, u in zip(cast, columns.unfollowed, strict=True)
        )
        wechat = [WECHAT_MARKER not in columns.agents[code] for code in range(len(columns.agents))]
        self.non_wechat = bytearray(map(wechat.__getitem__, columns.agent))
        # Seconds on the form.
        self.dwell = array("d", map(truediv, map(sub, cast, columns.served), repeat(1_000_000)))
        self.fast = bytearray(map(gt, repeat(FAST_DWELL_SECONDS), self.dwell))
        # The poll's median dwell, from every MEDIAN_STRIDE-th ballot: a baseline needs
        # no more, and sorting a million floats takes a while.
        self.median_dwell = statistics.median(self.dwell[::MEDIAN_STRIDE]) if size else 0.0
        # Codes, compared and counted only (Columns: a device per ballot without one).
        self.device = columns.device
        self.follower = columns.follower
        self.subnet = columns.subnet
        self.network = columns.network
        self.agent = columns.agent
        self.cases = columns.cases  # each ballot's set of cases (a code)
        self.by_case = self._by_case()
        self.by_network = Groups(columns.network, len(columns.networks))
        self.by_subnet = Groups(columns.subnet, len(columns.subnets))
        self.per_hour = Counter(self.hour)
        self.first_hour = self.hour[0] if size else 0
        self.last_hour = self.hour[-1] if size else -1
        self.lockstep = self._lockstep()
        self.sums = {
            name: sum(getattr(self, name))
            for name in (
                "night",
                "single",
                "fresh",
                "seconds",
                "quick_unfollow",
                "non_wechat",
                "fast",
                "lockstep",
            )
        }
        self.gap_iqr = self.gap_spread(range(self.size))
        self.hour_cv = cv(self.hour_of_day(range(self.size)))
        self.size_counts = Counter(self.ballot_size)
        self._samples: dict[int, Crowd] = {}
        self._case_sets: dict[int, Counter] = {}
        self._has: dict[int, bytes] = {}

    def _by_case(self) -> dict[int, array]:
        """Case number → its ballots (indices, in time order)."""
        sets = self.columns.case_sets
        by_case = {number: array("i") for number in sorted({n for s in sets for n in s})}
        adders = [[by_case[number].append for number in cases] for cases in sets]
        for index, code in enumerate(self.cases):
            for add_to in adders[code]:
                add_to(index)
        return by_case

    def _lockstep(self) -> bytearray:
        multi = map(gt, self.ballot_size, repeat(1))
        in_hour = Counter(compress(zip(self.hour, self.cases, strict=True), multi))
        overall: Counter = Counter()
        for (_, cases), count in in_hour.items():
            overall[cases] += count
        groups = set()
        for (hour, cases), count in in_hour.items():
            if count < LOCKSTEP_MIN_GROUP:
                continue
            others = self.size - self.per_hour[hour]
            expected = self.per_hour[hour] * (overall[cases] - count) / others if others else 0
            if count >= LOCKSTEP_MIN_RATIO * expected:
                groups.add((hour, cases))
        return bytearray(map(groups.__contains__, zip(self.hour, self.cases, strict=True)))

    def has_case(self, number: int) -> bytes:
        """Per set-of-cases code: 1 if the set names the case."""
        if number not in self._has:
            self._has[number] = bytes(number in s for s in self.columns.case_sets)
        return self._has[number]

    def includes(self, i: int, number: int) -> bool:
        """Whether ballot i names the case."""
        return bool(self.has_case(number)[self.cases[i]])

    def case_counts(self, indices: Iterable[int]) -> Counter:
        """How many of these ballots name each case."""
        sets = self.columns.case_sets
        counts: Counter = Counter()
        for code, count in Counter(map(self.cases.__getitem__, indices)).items():
            for number in sets[code]:
                counts[number] += count
        return counts

    def cast_at(self, i: int) -> datetime:
        """Ballot i's cast time, in Beijing time."""
        return moment(self.columns.cast[i]).astimezone(TIME_ZONE)

    def gap_spread(self, indices: Iterable[int]) -> float | None:
        """IQR of log10 inter-arrival gaps, or None with too few ballots."""
        times = [self.ts[i] for i in indices]
        if len(times) <= MIN_GAPS:
            return None
        return iqr([math.log10(max(b - a, MIN_GAP_SECONDS)) for a, b in pairwise(times)])

    def hour_of_day(self, indices: Iterable[int]) -> list[int]:
        counts = [0] * 24
        for i in indices:
            counts[self.local_hour[i]] += 1
        return counts

    def shares(self, name: str, indices: Sequence[int]) -> tuple[float, float]:
        """(share in the slice, share in the rest of the poll) of a per-ballot fact."""
        facts = getattr(self, name)
        inside = sum(facts[i] for i in indices)
        rest_size = self.size - len(indices)
        rest = (self.sums[name] - inside) / rest_size if rest_size else inside / len(indices)
        return inside / len(indices), rest

    def size_share(self, size: int, inside: int, slice_size: int) -> float:
        """The share of the rest of the poll naming `size` cases, `inside` of the
        slice's `slice_size` ballots doing so."""
        rest = self.size - slice_size
        return (self.size_counts[size] - inside) / rest if rest else inside / slice_size

    def multi_sets(self, indices: Iterable[int]) -> Counter:
        """How many of these ballots name each set of cases (by its code), multi-case
        ballots only."""
        size, cases = self.ballot_size, self.cases
        return Counter(cases[i] for i in indices if size[i] > 1)

    def case_sets(self, number: int) -> Counter:
        """`multi_sets` of all the case's ballots, counted once per case."""
        if number not in self._case_sets:
            self._case_sets[number] = self.multi_sets(self.by_case.get(number, []))
        return self._case_sets[number]

    @cached_property
    def poll_sets(self) -> Counter:
        """`multi_sets` of the whole poll."""
        return self.multi_sets(range(self.size))

    def voters(self, indices: Iterable[int]) -> list[int]:
        """Each follower's first ballot among `indices` (in time order)."""
        indices = list(indices)
        # Assigned back to front, so each follower keeps their first ballot.
        first = dict(zip(reversed(pick(self.follower, indices)), reversed(indices), strict=True))
        return sorted(first.values())

    def crowd(self, indices: Sequence[int]) -> Crowd:
        """Who cast these ballots, counted one ballot per voter (subnet code BLANK: none)."""
        slice_counts = Counter(pick(self.subnet, indices))
        first = self.voters(indices)
        n = len(first)
        subnets = Counter(pick(self.subnet, first))
        own = {
            subnet
            for subnet, count in slice_counts.items()
            if subnet and count >= OWN_SUBNET_SHARE * self.by_subnet.size(subnet)
        }
        agents = Counter(pick(self.agent, first))
        return Crowd(
            voters=n,
            user_agents=len(agents),
            subnets=len([s for s in subnets if s]),
            top_subnet_share=sum(heapq.nlargest(TOP_SUBNETS, (c for s, c in subnets.items() if s)))
            / n,
            accounts_per_device=n / len(set(pick(self.device, first))),
            own_subnet_share=sum(subnets[s] for s in own) / n,
            top_agent_share=sum(c for _, c in agents.most_common(TOP_USER_AGENTS)) / n,
        )

    def sample_crowd(self, voters: int) -> Crowd:
        """The mean crowd of SAMPLE_REPEATS random samples of the poll, as many voters
        (one sample from SAMPLE_ONCE_VOTERS voters up)."""
        voters = min(voters, self.size)
        if voters not in self._samples:
            runs = []
            for repeat in range(1 if voters >= SAMPLE_ONCE_VOTERS else SAMPLE_REPEATS):
                rng = random.Random(SAMPLE_SEED + voters * 7919 + repeat)  # noqa: S311 (a baseline)
                runs.append(self.crowd(sorted(rng.sample(range(self.size), voters))))
            averaged = [f.name for f in fields(Crowd) if f.name != "voters"]
            self._samples[voters] = Crowd(
                voters=voters,
                **{name: statistics.fmean(getattr(run, name) for run in runs) for name in averaged},
            )
        return self._samples[voters]


def pick(values: Sequence, indices: Sequence[int]) -> tuple:
    """`values[i]` for each index, at C speed."""
    if len(indices) == 1:
        return (values[indices[0]],)
    return itemgetter(*indices)(values) if indices else ()


def top_sets_share(sets: Counter) -> float | None:
    """The share of multi-case ballots (`Poll.multi_sets`) naming one of the
    CO_CHOSEN_TOP commonest sets; None with fewer than CO_CHOSEN_MIN_BALLOTS."""
    total = sum(sets.values())
    if total < CO_CHOSEN_MIN_BALLOTS:
        return None
    return sum(count for _, count in sets.most_common(CO_CHOSEN_TOP)) / total


def hour_start(hour: int) -> datetime:
    """When an hour bucket (`Poll.hour`) starts, in Beijing time."""
    return datetime.fromtimestamp(hour * 3600, TIME_ZONE)


def iqr(values: Sequence[float]) -> float:
    """The spread of the middle half: a few long pauses do not move it."""
    quartiles = statistics.quantiles(values, n=4)
    return quartiles[2] - quartiles[0]


def cv(counts: Sequence[int]) -> float:
    """Coefficient of variation (0 when there is nothing to count)."""
    mean = statistics.fmean(counts)
    return statistics.pstdev(counts) / mean if mean else 0.0
