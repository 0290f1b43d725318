"""Shared traits: what a case's ballots have in common that the rest of the poll does not.

A paid "真人投票" service that spreads its votes over hundreds of residential
networks at ordinary hours hides from the time and address selectors, but not from
what its ballots share: a few seconds on the form, accounts followed a minute
before voting, two user agents, the same size of ballot. So every ballot gets a
value for each trait that does not depend on where it came from:

- dwell: seconds on the form, in bands (DWELL_EDGES);
- follow_lag: seconds from following to voting (FOLLOW_LAG_EDGES; unknown apart),
  which is also the follower's age when they voted;
- user_agent, and its family (ua_family: system, major version, WeChat version);
- device_reuse: how many accounts voted from the ballot's device cookie;
- ballot_size: how many cases it names (5 and more together);
- hour: its Beijing hour of day, in bands of HOUR_BAND_HOURS.

For a case, each trait's values are counted over the ballots that include it and
compared with what the rest of the poll predicts for that many ballots (its
ballots weighted by the cases they name: a five-case ballot is five times as
likely to include the case): observed vs expected, as the burst selector does for
hours. A value is over-represented
when it has ≥ TRAIT_VALUE_MIN_EXCESS more ballots than expected and ≥
TRAIT_MIN_RATIO times as many; a trait is a finding when its over-represented
values together have an excess of ≥ TRAIT_MIN_EXCESS ballots, ≥ TRAIT_MIN_RATIO ×
expected, and z = (obs − exp)/√(exp + 1) ≥ TRAIT_MIN_Z. Findings are then combined,
strongest first, while the ballots that have them all stay over-represented against
the rest of the poll's ballots that have them all.

Each finding, and their combination, is a suspect slice. It is characterised by the
measures that do not read the traits that selected it (READS): a slice picked for
its dwell is not then called suspicious for its dwell.
"""

import math
import re
from array import array
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from itertools import compress, repeat
from operator import add, eq, floordiv, itemgetter, mod, mul, sub

from ballots.detection import text
from ballots.detection.thresholds import (
    DWELL_EDGES,
    FOLLOW_LAG_EDGES,
    HOUR_BAND_HOURS,
    MAX_BALLOT_SIZE,
    REUSE_EDGES,
    TRAIT_MAX_COMBINED,
    TRAIT_MIN_EXCESS,
    TRAIT_MIN_RATIO,
    TRAIT_MIN_Z,
    TRAIT_VALUE_MIN_EXCESS,
)

TRAITS = ("dwell", "follow_lag", "user_agent", "ua_family", "device_reuse", "ballot_size", "hour")
# The measures (measures.py keys) that read each trait: skipped on a slice it selected.
READS = {
    "dwell": frozenset({"fast_dwell", "quick_reading"}),
    "follow_lag": frozenset({"seconds_follow", "fresh_follow"}),
    "user_agent": frozenset({"few_user_agents", "top_user_agents", "non_wechat"}),
    "ua_family": frozenset({"few_user_agents", "top_user_agents", "non_wechat"}),
    "device_reuse": frozenset({"shared_devices"}),
    "ballot_size": frozenset({"single_choice", "fixed_size"}),
    "hour": frozenset({"night_votes", "flat_day"}),
}
UNKNOWN = -1  # a follow lag we do not know
# The traits packed into one integer per ballot, with how many values each takes;
# a follow lag is stored one up, so that UNKNOWN is 0.
PACKED = (
    ("dwell", len(DWELL_EDGES) + 1),
    ("follow_lag", len(FOLLOW_LAG_EDGES) + 2),
    ("device_reuse", len(REUSE_EDGES) + 1),
    ("hour", 24 // HOUR_BAND_HOURS),
)
OFFSET = {"follow_lag": 1}

_OS = (
    (re.compile(r"iPhone OS (\d+)"), "iOS {}"),
    (re.compile(r"Android (\d+)"), "Android {}"),
    (re.compile(r"Windows"), "Windows"),
    (re.compile(r"Mac OS X"), "macOS"),
)
_WECHAT = re.compile(r"MicroMessenger/(\d+\.\d+\.\d+)")


def ua_family(user_agent: str) -> str:
    """'Android 13 · 微信 8.0.44': the system, its major version and the WeChat version."""
    system = "其他系统"
    for pattern, label in _OS:
        found = pattern.search(user_agent)
        if found:
            system = label.format(*found.groups())
            break
    wechat = _WECHAT.search(user_agent)
    return f"{system} · {'微信 ' + wechat.group(1) if wechat else '非微信浏览器'}"


@dataclass(frozen=True)
class Finding:
    """Traits whose over-represented values the case's ballots share: `values` per trait;
    `observed` of the case's ballots have them all, `expected` by the rest of the poll."""

    traits: tuple[str, ...]
    values: tuple[frozenset, ...]
    observed: int
    expected: float
    indices: tuple[int, ...]  # the case's ballots that have them all (Poll.records order)

    @property
    def excess(self) -> float:
        return self.observed - self.expected

    @property
    def reads(self) -> frozenset[str]:
        return frozenset().union(*(READS[t] for t in self.traits))


class TraitTable:
    """Every ballot's value for each trait, computed once per poll, with the poll's counts."""

    def __init__(self, poll):
        self.poll = poll
        agents = poll.agent
        # Ids per distinct string in string order, looked up with C-level maps: a
        # million ballots share a few thousand user agents (`poll.agent` holds codes).
        names = poll.columns.agents
        used = {code: names[code] for code in set(agents)}
        distinct = sorted(used.values())
        agent_ids = {agent: code for code, agent in enumerate(distinct)}
        family_names = sorted({ua_family(agent) for agent in distinct})
        family_ids = {name: code for code, name in enumerate(family_names)}
        self.family_of = [family_ids[ua_family(agent)] for agent in distinct]  # by agent id
        self.labels: dict[str, dict[int, str]] = {
            "user_agent": {code: _short_agent(agent) for agent, code in agent_ids.items()},
            "ua_family": dict(enumerate(family_names)),
        }
        # Accounts per device cookie, each follower on the device of their last ballot
        # (a dict of a million pairs builds far faster than a set of them).
        accounts = Counter(dict(zip(poll.follower, poll.device, strict=True)).values())
        reuse = {device: bisect_right(REUSE_EDGES, count) for device, count in accounts.items()}
        hour_band = [hour // HOUR_BAND_HOURS for hour in range(24)]
        columns: dict[str, array] = {  # PACKED's traits, as stored (follow lag + 1)
            "dwell": array("b", map(partial(bisect_right, DWELL_EDGES), poll.dwell)),
            "follow_lag": array(
                "b",
                (
                    0 if math.isnan(lag) else bisect_right(FOLLOW_LAG_EDGES, lag) + 1
                    for lag in poll.follow_lag
                ),
            ),
            # A device only a follower's earlier ballots used is nobody's last: 0 accounts.
            "device_reuse": array("b", (reuse.get(device, 0) for device in poll.device)),
            "hour": array("b", map(hour_band.__getitem__, poll.local_hour)),
        }
        # Each ballot's values and size in two integers (mixed radix: the PACKED
        # traits, then the size; the user agent, then the size), so that one count
        # over a case's ballots gives every trait's counts and how many cases those
        # ballots name (see `findings`). The user agent's family and the ballot size
        # are read off the user agent and the size.
        self.base = max(poll.ballot_size, default=0) + 1
        packed = iter(columns[PACKED[0][0]])
        for trait, radix in PACKED[1:]:
            packed = map(add, map(mul, packed, repeat(radix)), columns[trait])
        # Arrays: as lists, a million large ints take 36 bytes each.
        self.packed = array("i", map(add, map(mul, packed, repeat(self.base)), poll.ballot_size))
        rank = {code: agent_ids[agent] for code, agent in used.items()}
        agent_codes = map(rank.__getitem__, agents)
        self.agents = array(
            "i", map(add, map(mul, agent_codes, repeat(self.base)), poll.ballot_size)
        )
        self.totals, self.mass = {}, {}
        for trait, counted in self._counted().items():
            self.totals[trait], self.mass[trait] = self._split(counted)
        self.total_mass = sum(poll.ballot_size)
        self._index: dict[tuple[str, int], array] = {}

    def _counted(self, gather=None) -> dict[str, Counter]:
        """Every trait's (value × base + size) counted over the ballots `gather` picks
        (all of them without it)."""
        base = self.base
        counted: dict[str, Counter] = {trait: Counter() for trait in TRAITS}
        for key, count in Counter(gather(self.packed) if gather else self.packed).items():
            rest, size = divmod(key, base)
            counted["ballot_size"][min(size, MAX_BALLOT_SIZE) * base + size] += count
            for trait, radix in reversed(PACKED):
                rest, value = divmod(rest, radix)
                counted[trait][(value - OFFSET.get(trait, 0)) * base + size] += count
        agents = counted["user_agent"] = Counter(gather(self.agents) if gather else self.agents)
        families = counted["ua_family"]
        for key, count in agents.items():
            agent, size = divmod(key, base)
            families[self.family_of[agent] * base + size] += count
        return counted

    def _split(self, keyed: Counter) -> tuple[Counter, Counter]:
        """Counts of (value × base + size) → (ballots per value, cases they name per
        value)."""
        counts: Counter = Counter()
        mass: Counter = Counter()
        for key, count in keyed.items():
            value, size = divmod(key, self.base)
            counts[value] += count
            mass[value] += count * size
        return counts, mass

    def value(self, trait: str, i: int) -> int:
        """Ballot i's value of the trait."""
        if trait == "ballot_size":
            return min(self.poll.ballot_size[i], MAX_BALLOT_SIZE)
        if trait in ("user_agent", "ua_family"):
            agent = self.agents[i] // self.base
            return agent if trait == "user_agent" else self.family_of[agent]
        rest = self.packed[i] // self.base
        for name, radix in reversed(PACKED):
            rest, value = divmod(rest, radix)
            if name == trait:
                return value - OFFSET.get(trait, 0)
        raise KeyError(trait)

    def index(self, trait: str, value: int) -> array:
        """The poll's ballots with this value of the trait (built on first use)."""
        key = (trait, value)
        if key not in self._index:
            column = self._column(trait)
            self._index[key] = array(
                "i", compress(range(self.poll.size), map(eq, column, repeat(value)))
            )
        return self._index[key]

    def _column(self, trait: str) -> Iterator[int]:
        """Every ballot's value of the trait, in order, decoded at C speed."""
        base = self.base
        if trait == "ballot_size":
            return map(min, self.poll.ballot_size, repeat(MAX_BALLOT_SIZE))
        if trait in ("user_agent", "ua_family"):
            agents = map(floordiv, self.agents, repeat(base))
            return agents if trait == "user_agent" else map(self.family_of.__getitem__, agents)
        names = [name for name, _ in PACKED]
        position = names.index(trait)
        below = math.prod(radix for _, radix in PACKED[position + 1 :])
        packed = map(floordiv, self.packed, repeat(base * below))
        values = map(mod, packed, repeat(PACKED[position][1]))
        offset = OFFSET.get(trait, 0)
        return map(sub, values, repeat(offset)) if offset else values

    def findings(self, number: int) -> list[Finding]:
        """The case's traits with over-represented values, largest excess first.

        What the rest of the poll predicts weighs each of its ballots by the number of
        cases it names: a ballot naming five cases is five times as likely as a
        single-choice one to include any given case, so the case's ballots are larger
        than the poll's on average without anything odd about them."""
        poll = self.poll
        own = poll.by_case.get(number, [])
        if len(own) < TRAIT_MIN_EXCESS or len(own) == poll.size:
            return []
        counted = self._counted(itemgetter(*own))
        found = []
        for trait in TRAITS:
            counts, own_masses = self._split(counted[trait])
            scale = len(own) / (self.total_mass - sum(own_masses.values()))
            mass = self.mass[trait]
            values, observed, expected = set(), 0, 0.0
            for value, count in counts.items():
                predicted = (mass[value] - own_masses[value]) * scale
                if count - predicted >= TRAIT_VALUE_MIN_EXCESS and count >= (
                    TRAIT_MIN_RATIO * predicted
                ):
                    values.add(value)
                    observed += count
                    expected += predicted
            if values and _over(observed, expected):
                of = partial(self.value, trait)
                indices = tuple(i for i in own if of(i) in values)
                found.append(Finding((trait,), (frozenset(values),), observed, expected, indices))
        found.sort(key=lambda f: (-f.excess, TRAITS.index(f.traits[0])))
        return found

    def combine(self, number: int, findings: list[Finding]) -> Finding | None:
        """The strongest finding joined by the next ones while the ballots that have them
        all stay over-represented against the rest of the poll's; None if none joins."""
        if len(findings) < 2:
            return None
        poll = self.poll
        own = poll.by_case[number]
        scale = len(own) / (self.total_mass - sum(itemgetter(*own)(poll.ballot_size)))
        combined = findings[0]
        for finding in findings[1:]:
            if len(combined.traits) >= TRAIT_MAX_COMBINED:
                break
            trait, values = finding.traits[0], finding.values[0]
            indices = tuple(i for i in combined.indices if self.value(trait, i) in values)
            if len(indices) < TRAIT_MIN_EXCESS:
                continue
            traits, all_values = (*combined.traits, trait), (*combined.values, values)
            others = self._rest_with(number, traits, all_values)
            if _over(len(indices), others * scale):
                combined = Finding(traits, all_values, len(indices), others * scale, indices)
        return combined if len(combined.traits) > 1 else None

    def _rest_with(self, number: int, traits, values) -> int:
        """The ballots without the case that have every trait's values, weighted by the
        cases they name (as in `findings`), scanning the rarest trait's ballots only."""
        poll = self.poll

        def size(position: int) -> int:
            return sum(self.totals[traits[position]][v] for v in values[position])

        rarest = min(range(len(traits)), key=size)
        checks = list(zip(traits, values, strict=True))
        has, cases = poll.has_case(number), poll.cases
        mass = 0
        for value in values[rarest]:
            for i in self.index(traits[rarest], value):
                if not has[cases[i]] and all(self.value(t, i) in v for t, v in checks):
                    mass += poll.ballot_size[i]
        return mass

    def describe(self, finding: Finding) -> list[tuple[str, list[str]]]:
        """(trait, its over-represented values' labels) for each trait of a finding."""
        return [
            (trait, sorted({self.label(trait, v) for v in values}))
            for trait, values in zip(finding.traits, finding.values, strict=True)
        ]

    def label(self, trait: str, value: int) -> str:
        return text.trait_value(trait, value, self.labels.get(trait, {}))


def _over(observed: float, expected: float) -> bool:
    excess = observed - expected
    return (
        excess >= TRAIT_MIN_EXCESS
        and observed >= TRAIT_MIN_RATIO * expected
        and excess / math.sqrt(expected + 1) >= TRAIT_MIN_Z
    )


def _short_agent(user_agent: str) -> str:
    """A user agent as the page shows it: its family and, for Android, the phone model."""
    model = re.search(r"Android \d+; ([^;)]+?)(?: Build/|[;)])", user_agent)
    family = ua_family(user_agent)
    return f"{family} · {model.group(1)}" if model else family
