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
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from functools import cached_property
from itertools import pairwise
from operator import attrgetter, itemgetter

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
    """The records in time order with every per-ballot fact computed once, and the
    indexes (by case, address, /24, hour) the selectors need."""

    def __init__(self, records: Iterable[BallotRecord]):
        self.records = sorted(records, key=lambda r: (r.cast_at, r.id))
        records = self.records
        self.size = len(records)
        self.ts = [r.cast_at.timestamp() for r in records]
        # Hour buckets on the epoch: Asia/Shanghai is UTC+8 all year, so they are
        # Beijing clock hours.
        self.hour = [int(t // 3600) for t in self.ts]
        self.local_hour = [r.cast_at.astimezone(TIME_ZONE).hour for r in records]
        self.night = [h in NIGHT_HOURS for h in self.local_hour]
        self.ballot_size = [len(r.cases) for r in records]
        self.single = [size == 1 for size in self.ballot_size]
        self.follow_lag = [
            (r.cast_at - r.followed_at).total_seconds() if r.followed_at else None for r in records
        ]
        self.fresh = [lag is not None and lag <= FRESH_FOLLOW_SECONDS for lag in self.follow_lag]
        self.seconds = [lag is not None and lag < SECONDS_FOLLOW_SECONDS for lag in self.follow_lag]
        # Unfollowed 0–QUICK_UNFOLLOW_SECONDS after this ballot (an unfollow before it
        # was followed by a re-follow, so it is not this ballot's).
        self.quick_unfollow = [
            r.unfollowed_at is not None
            and 0 <= (r.unfollowed_at - r.cast_at).total_seconds() <= QUICK_UNFOLLOW_SECONDS
            for r in records
        ]
        self.non_wechat = [WECHAT_MARKER not in r.user_agent for r in records]
        # Seconds on the form; an array, since a million floats in a list take 32 bytes each.
        self.dwell = array("d", [(r.cast_at - r.form_served_at).total_seconds() for r in records])
        self.fast = [dwell < FAST_DWELL_SECONDS for dwell in self.dwell]
        # The poll's median dwell, from every MEDIAN_STRIDE-th ballot: a baseline needs
        # no more, and sorting a million floats takes a while.
        self.median_dwell = statistics.median(self.dwell[::MEDIAN_STRIDE]) if records else 0.0
        self.device = [r.device_id or f"ballot:{r.id}" for r in records]
        # Plain columns, so that slices read them with C-level `pick`s.
        self.follower = list(map(attrgetter("follower_id"), records))
        self.subnet = list(map(attrgetter("ip_subnet"), records))
        self.agent = list(map(attrgetter("user_agent"), records))
        self.by_case: dict[int, list[int]] = defaultdict(list)
        self.by_network: dict[str, list[int]] = defaultdict(list)
        self.by_subnet: dict[str, list[int]] = defaultdict(list)
        for index, record in enumerate(records):
            for number in record.cases:
                self.by_case[number].append(index)
            if record.ip_network:
                self.by_network[record.ip_network].append(index)
            if record.ip_subnet:
                self.by_subnet[record.ip_subnet].append(index)
        self.per_hour = Counter(self.hour)
        self.first_hour = self.hour[0] if records else 0
        self.last_hour = self.hour[-1] if records else -1
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

    def _lockstep(self) -> list[bool]:
        in_hour = Counter(
            (self.hour[i], r.cases) for i, r in enumerate(self.records) if len(r.cases) > 1
        )
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
        return [(self.hour[i], r.cases) in groups for i, r in enumerate(self.records)]

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
        """How many of these ballots name each set of cases, multi-case ballots only."""
        return Counter(self.records[i].cases for i in indices if self.ballot_size[i] > 1)

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
        """Who cast these ballots, counted one ballot per voter."""
        slice_counts = Counter(pick(self.subnet, indices))
        first = self.voters(indices)
        n = len(first)
        subnets = Counter(pick(self.subnet, first))
        own = {
            subnet
            for subnet, count in slice_counts.items()
            if subnet and count >= OWN_SUBNET_SHARE * len(self.by_subnet[subnet])
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
