"""Measures of a suspect slice, family by family: figures, never words.

A measure is one figure of the slice, the baseline it is compared with, and the
thresholds at which it is suspicious: `weak` scores 1, `strong` scores 2 (a measure
may have only one of them). Per-ballot shares are compared with the rest of the
poll (the poll without the slice); counts (user agents, /24s, devices) are taken
over one ballot per voter and compared with the mean of SAMPLE_REPEATS random
samples of the poll of the same size (`Crowd`). A family scores the highest of its
measures, the first of equals winning, and every measure that scores gives a
reason. The families:
- timing: IQR of log10 inter-arrival gaps (scripts are metronomic, people are
  Poisson, ≈ 0.68), night (00–06h) share vs the rest of the poll, and a flat
  hour-of-day profile over days (weak only);
- network: distinct /24s per voter, the share of the top /24s, and the share of
  voters on /24s used (almost) only by this slice;
- device: distinct user agents, the share of voters on the commonest few,
  followers per device cookie, non-WeChat user agents, dwell under
  FAST_DWELL_SECONDS (the server already refuses < 2 s, so "too fast to have read
  the page" starts a little above it), and a median dwell far below the poll's;
- identity: followed seconds before voting (strong), followed minutes before
  (weak only: following is required to vote, so it is weighted low), and
  unfollowed within QUICK_UNFOLLOW_SECONDS after voting (WeChat pushes unfollows,
  Follower.unfollowed_at): followed, voted and left is how paid voters work;
- content: single-choice share; lockstep — the same multi-case set cast ≥
  LOCKSTEP_MIN_GROUP times in one hour, ≥ LOCKSTEP_MIN_RATIO × what the set's
  frequency in the other hours predicts; a fixed ballot size (≥ 2 cases, "the
  target and one popular case"); and the co-chosen set: the other cases on the
  multi-case ballots are one of a few sets, against the case's other ballots.

A measure says nothing in words: its `key` names its metric and reason in text.py.

Adding a measure (issue #12 will: dwell, follow-to-vote time, user agent, device
reuse, ballot size, co-chosen set, hour-of-day profile): in its family's section,
declare it with `_share` (a per-ballot fact: add the fact to `Poll`) or `_crowded`
(a count over voters: add it to `Crowd`), or write a function `(Slice) -> Measure |
None` (None when the slice has too little for it); put it in its family's tuple in
MEASURES at the end (that order is the order of the reasons, and breaks ties); and
give its key its words in text.py.
"""

import operator
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from ballots.detection.poll import Crowd, Poll, cv, pick, top_sets_share
from ballots.detection.thresholds import (
    ACCOUNTS_PER_DEVICE_FACTOR_STRONG,
    ACCOUNTS_PER_DEVICE_FACTOR_WEAK,
    ACCOUNTS_PER_DEVICE_STRONG,
    ACCOUNTS_PER_DEVICE_WEAK,
    CO_CHOSEN_MARGIN_STRONG,
    CO_CHOSEN_MARGIN_WEAK,
    CO_CHOSEN_STRONG,
    CO_CHOSEN_WEAK,
    FAST_DWELL_FACTOR_STRONG,
    FAST_DWELL_FACTOR_WEAK,
    FAST_DWELL_STRONG,
    FAST_DWELL_WEAK,
    FIXED_SIZE_MARGIN_STRONG,
    FIXED_SIZE_MARGIN_WEAK,
    FIXED_SIZE_STRONG,
    FIXED_SIZE_WEAK,
    FLAT_CV_FACTOR,
    FLAT_MIN_BALLOTS,
    FLAT_MIN_SPAN_HOURS,
    FRESH_FOLLOW_FACTOR,
    FRESH_FOLLOW_WEAK,
    GAP_IQR_STRONG,
    GAP_IQR_WEAK,
    LOCKSTEP_FACTOR_WEAK,
    LOCKSTEP_STRONG,
    LOCKSTEP_WEAK,
    NIGHT_FACTOR_STRONG,
    NIGHT_FACTOR_WEAK,
    NIGHT_SHARE_STRONG,
    NIGHT_SHARE_WEAK,
    NON_WECHAT_MARGIN_STRONG,
    NON_WECHAT_MARGIN_WEAK,
    NON_WECHAT_STRONG,
    NON_WECHAT_WEAK,
    OWN_SUBNET_MARGIN_STRONG,
    OWN_SUBNET_MARGIN_WEAK,
    OWN_SUBNET_STRONG,
    OWN_SUBNET_WEAK,
    QUICK_READING_STRONG,
    QUICK_READING_WEAK,
    QUICK_UNFOLLOW_FACTOR_STRONG,
    QUICK_UNFOLLOW_FACTOR_WEAK,
    QUICK_UNFOLLOW_STRONG,
    QUICK_UNFOLLOW_WEAK,
    SECONDS_FOLLOW_FACTOR,
    SECONDS_FOLLOW_STRONG,
    SINGLE_MARGIN_STRONG,
    SINGLE_MARGIN_WEAK,
    SINGLE_STRONG,
    SINGLE_WEAK,
    SUBNETS_PER_VOTER_FACTOR_STRONG,
    SUBNETS_PER_VOTER_FACTOR_WEAK,
    TOP_AGENT_FACTOR_STRONG,
    TOP_AGENT_FACTOR_WEAK,
    TOP_AGENT_SHARE_STRONG,
    TOP_AGENT_SHARE_WEAK,
    TOP_SUBNET_FACTOR_STRONG,
    TOP_SUBNET_FACTOR_WEAK,
    TOP_SUBNET_SHARE_STRONG,
    TOP_SUBNET_SHARE_WEAK,
    USER_AGENT_FACTOR_STRONG,
)


@dataclass(frozen=True)
class Slice:
    """The ballots of a case under examination (indices into `poll.records`, in time
    order), counts over their voters, and the same counts over a random sample of the
    poll as large."""

    poll: Poll
    case: int
    indices: list[int]
    crowd: Crowd
    sample: Crowd

    @classmethod
    def of(cls, poll: Poll, case: int, indices: list[int]) -> "Slice":
        crowd = poll.crowd(indices)
        return cls(poll, case, indices, crowd, poll.sample_crowd(crowd.voters))

    def shares(self, fact: str) -> tuple[float, float]:
        """(share in the slice, share in the rest of the poll) of a per-ballot fact."""
        return self.poll.shares(fact, self.indices)


@dataclass(frozen=True)
class Measure:
    key: str  # names its words in text.py
    value: float
    baseline: float | None
    direction: str  # ">=": suspicious when value is at least the threshold; "<=": at most
    strong: float | None = None  # scores 2 here (None: this measure scores at most 1)
    weak: float | None = None  # scores 1 here (None: this measure scores 2 or nothing)
    figures: dict[str, float] = field(default_factory=dict)  # more numbers its reason quotes

    @property
    def score(self) -> int:
        beyond = operator.ge if self.direction == ">=" else operator.le
        if self.strong is not None and beyond(self.value, self.strong):
            return 2
        return 1 if self.weak is not None and beyond(self.value, self.weak) else 0

    @property
    def threshold(self) -> float | None:
        """Where it reaches its top score: the page shows this one."""
        return self.strong if self.strong is not None else self.weak


def measure(family: str, s: Slice, skip: frozenset[str] = frozenset()) -> list[Measure]:
    """The family's measures that apply to the slice, in MEASURES order, but those in
    `skip` (the measures that read what selected the slice)."""
    found = (measure_of(s) for measure_of in MEASURES[family] if measure_of.__name__ not in skip)
    return [m for m in found if m is not None]


# --- Thresholds against a baseline, and the two measures most families use -------------

Bar = Callable[[float], float]  # a baseline → the threshold it sets


def _times(floor: float, factor: float) -> Bar:
    """The larger of `floor` and `factor` × the baseline."""
    return lambda baseline: max(floor, factor * baseline)


def _plus(floor: float, margin: float) -> Bar:
    """The larger of `floor` and the baseline plus `margin`."""
    return lambda baseline: max(floor, baseline + margin)


def _fixed(threshold: float) -> Bar:
    """The same whatever the baseline."""
    return lambda baseline: threshold


def _share(key: str, fact: str, strong: Bar | None = None, weak: Bar | None = None):
    """A measure of how much more common a per-ballot fact (`Poll.shares`) is in the
    slice than in the rest of the poll."""

    def share(s: Slice) -> Measure:
        value, rest = s.shares(fact)
        return Measure(key, value, rest, ">=", _bar(strong, rest), _bar(weak, rest))

    share.__name__ = key  # every measure function is named after its key
    return share


def _crowded(key: str, name: str, strong: Bar, weak: Bar):
    """A measure of how much higher a count over the slice's voters (`Crowd`) is than
    over a random sample of the poll as large."""

    def crowded(s: Slice) -> Measure:
        value, sample = getattr(s.crowd, name), getattr(s.sample, name)
        return Measure(key, value, sample, ">=", strong(sample), weak(sample))

    crowded.__name__ = key
    return crowded


def _bar(bar: Bar | None, baseline: float) -> float | None:
    return None if bar is None else bar(baseline)


# --- Timing: scripts are metronomic, farms work at night and round the clock -------------


def regular_gaps(s: Slice) -> Measure | None:
    """IQR of log10 inter-arrival gaps: people arrive like a Poisson process (≈ 0.68)."""
    spread = s.poll.gap_spread(s.indices)
    if spread is None:
        return None
    return Measure(
        "regular_gaps", spread, s.poll.gap_iqr, "<=", strong=GAP_IQR_STRONG, weak=GAP_IQR_WEAK
    )


night_votes = _share(
    "night_votes",
    "night",
    strong=_times(NIGHT_SHARE_STRONG, NIGHT_FACTOR_STRONG),
    weak=_times(NIGHT_SHARE_WEAK, NIGHT_FACTOR_WEAK),
)


def flat_day(s: Slice) -> Measure | None:
    """An hour-of-day profile much flatter than the poll's, over days: people sleep,
    a drip does not. Scores 1 at most."""
    poll, indices = s.poll, s.indices
    span_hours = (poll.ts[indices[-1]] - poll.ts[indices[0]]) / 3600
    if len(indices) < FLAT_MIN_BALLOTS or span_hours < FLAT_MIN_SPAN_HOURS or not poll.hour_cv:
        return None
    flatness = cv(poll.hour_of_day(indices))
    return Measure("flat_day", flatness, poll.hour_cv, "<=", weak=FLAT_CV_FACTOR * poll.hour_cv)


# --- Network: few /24s, concentrated, used by nobody else ------------------------------


def few_subnets(s: Slice) -> Measure:
    """Distinct /24s per voter, against the sample's."""
    per_voter = s.crowd.subnets / s.crowd.voters
    sample_per_voter = s.sample.subnets / s.sample.voters
    return Measure(
        "few_subnets",
        per_voter,
        sample_per_voter,
        "<=",
        strong=SUBNETS_PER_VOTER_FACTOR_STRONG * sample_per_voter,
        weak=SUBNETS_PER_VOTER_FACTOR_WEAK * sample_per_voter,
        figures={"voters": s.crowd.voters, "subnets": s.crowd.subnets},
    )


top_subnets = _crowded(
    "top_subnets",
    "top_subnet_share",
    strong=_times(TOP_SUBNET_SHARE_STRONG, TOP_SUBNET_FACTOR_STRONG),
    weak=_times(TOP_SUBNET_SHARE_WEAK, TOP_SUBNET_FACTOR_WEAK),
)
own_subnets = _crowded(
    "own_subnets",
    "own_subnet_share",
    strong=_plus(OWN_SUBNET_STRONG, OWN_SUBNET_MARGIN_STRONG),
    weak=_plus(OWN_SUBNET_WEAK, OWN_SUBNET_MARGIN_WEAK),
)


# --- Device: few phones, shared phones, no WeChat, no time to read ----------------------


def few_user_agents(s: Slice) -> Measure:
    """Distinct user agents as a ratio of the sample's, so the baseline is 1. Strong
    or nothing."""
    return Measure(
        "few_user_agents",
        s.crowd.user_agents / max(s.sample.user_agents, 1),
        1.0,
        "<=",
        strong=USER_AGENT_FACTOR_STRONG,
        figures={
            "voters": s.crowd.voters,
            "user_agents": s.crowd.user_agents,
            "sample_user_agents": s.sample.user_agents,
        },
    )


top_user_agents = _crowded(
    "top_user_agents",
    "top_agent_share",
    strong=_times(TOP_AGENT_SHARE_STRONG, TOP_AGENT_FACTOR_STRONG),
    weak=_times(TOP_AGENT_SHARE_WEAK, TOP_AGENT_FACTOR_WEAK),
)


def shared_devices(s: Slice) -> Measure:
    """Accounts per device cookie, against the sample's."""
    sample = s.sample.accounts_per_device
    return Measure(
        "shared_devices",
        s.crowd.accounts_per_device,
        sample,
        ">=",
        strong=_times(ACCOUNTS_PER_DEVICE_STRONG, ACCOUNTS_PER_DEVICE_FACTOR_STRONG)(sample),
        weak=_times(ACCOUNTS_PER_DEVICE_WEAK, ACCOUNTS_PER_DEVICE_FACTOR_WEAK)(sample),
        figures={
            "voters": s.crowd.voters,
            "devices": round(s.crowd.voters / s.crowd.accounts_per_device),
        },
    )


non_wechat = _share(
    "non_wechat",
    "non_wechat",
    strong=_plus(NON_WECHAT_STRONG, NON_WECHAT_MARGIN_STRONG),
    weak=_plus(NON_WECHAT_WEAK, NON_WECHAT_MARGIN_WEAK),
)
fast_dwell = _share(
    "fast_dwell",
    "fast",
    strong=_times(FAST_DWELL_STRONG, FAST_DWELL_FACTOR_STRONG),
    weak=_times(FAST_DWELL_WEAK, FAST_DWELL_FACTOR_WEAK),
)


def quick_reading(s: Slice) -> Measure | None:
    """The slice's median dwell on the form as a ratio of the poll's median."""
    poll = s.poll
    if not poll.median_dwell:
        return None
    median = statistics.median(pick(poll.dwell, s.indices))
    return Measure(
        "quick_reading",
        median / poll.median_dwell,
        1.0,
        "<=",
        strong=QUICK_READING_STRONG,
        weak=QUICK_READING_WEAK,
        figures={"median": median, "poll_median": poll.median_dwell},
    )


# --- Identity: accounts made for the vote ---------------------------------------------

# Followed seconds before voting: strong or nothing.
seconds_follow = _share(
    "seconds_follow", "seconds", strong=_times(SECONDS_FOLLOW_STRONG, SECONDS_FOLLOW_FACTOR)
)
# Followed minutes before voting: weak only, since following is required to vote.
fresh_follow = _share("fresh_follow", "fresh", weak=_times(FRESH_FOLLOW_WEAK, FRESH_FOLLOW_FACTOR))
# Unfollowed within hours of voting: paid voters leave once paid; honest ones rarely do.
quick_unfollow = _share(
    "quick_unfollow",
    "quick_unfollow",
    strong=_times(QUICK_UNFOLLOW_STRONG, QUICK_UNFOLLOW_FACTOR_STRONG),
    weak=_times(QUICK_UNFOLLOW_WEAK, QUICK_UNFOLLOW_FACTOR_WEAK),
)


# --- Content: one case only, or the same set in lockstep (`Poll.lockstep`) ------------

single_choice = _share(
    "single_choice",
    "single",
    strong=_plus(SINGLE_STRONG, SINGLE_MARGIN_STRONG),
    weak=_plus(SINGLE_WEAK, SINGLE_MARGIN_WEAK),
)
lockstep = _share(
    "lockstep",
    "lockstep",
    strong=_fixed(LOCKSTEP_STRONG),
    weak=_times(LOCKSTEP_WEAK, LOCKSTEP_FACTOR_WEAK),
)


def fixed_size(s: Slice) -> Measure | None:
    """Most ballots name the same number (≥ 2) of cases: a job's instructions, such as
    "the target and one popular case". None without multi-case ballots."""
    sizes = Counter(s.poll.ballot_size[i] for i in s.indices if s.poll.ballot_size[i] > 1)
    if not sizes:
        return None
    size, count = max(sizes.items(), key=lambda item: (item[1], -item[0]))
    value, rest = count / len(s.indices), s.poll.size_share(size, count, len(s.indices))
    return Measure(
        "fixed_size",
        value,
        rest,
        ">=",
        strong=_plus(FIXED_SIZE_STRONG, FIXED_SIZE_MARGIN_STRONG)(rest),
        weak=_plus(FIXED_SIZE_WEAK, FIXED_SIZE_MARGIN_WEAK)(rest),
        figures={"cases": size},
    )


def co_chosen(s: Slice) -> Measure | None:
    """The other cases on the slice's multi-case ballots are one of a few sets (cover
    picked from a list), against the case's other multi-case ballots (or the poll's
    when the case has too few). None with too few multi-case ballots."""
    poll = s.poll
    inside = poll.multi_sets(s.indices)
    value = top_sets_share(inside)
    if value is None:
        return None
    baseline = top_sets_share(poll.case_sets(s.case) - inside)
    if baseline is None:
        baseline = top_sets_share(poll.poll_sets) or 0.0
    return Measure(
        "co_chosen",
        value,
        baseline,
        ">=",
        strong=_plus(CO_CHOSEN_STRONG, CO_CHOSEN_MARGIN_STRONG)(baseline),
        weak=_plus(CO_CHOSEN_WEAK, CO_CHOSEN_MARGIN_WEAK)(baseline),
    )


# Each family's measures, in the order their reasons are listed (the first of equal
# scores decides the family). A new measure goes into its family's tuple.
MEASURES = {
    "timing": (regular_gaps, night_votes, flat_day),
    "network": (few_subnets, top_subnets, own_subnets),
    "device": (
        few_user_agents,
        top_user_agents,
        shared_devices,
        non_wechat,
        fast_dwell,
        quick_reading,
    ),
    "identity": (seconds_follow, fresh_follow, quick_unfollow),
    "content": (single_choice, lockstep, fixed_size, co_chosen),
}
# The keys of each family's measures (a measure function is named after its key).
KEYS = {family: frozenset(m.__name__ for m in found) for family, found in MEASURES.items()}
