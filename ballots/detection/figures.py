"""The evidence page's figures for a set of ballots: where they came from, how they
were spaced, how long after following they were cast, and the case's rank."""

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import pairwise

from ballots.detection import text
from ballots.detection.columns import BLANK, Strings
from ballots.detection.poll import Groups, Poll
from ballots.detection.thresholds import FOLLOW_LAG_EDGES, GAP_EDGES, TOP_ADDRESSES


def top_addresses(
    poll: Poll,
    groups: Groups,
    codes: Sequence[int],
    names: Strings,
    number: int,
    indices: Sequence[int],
) -> list[tuple[str, int, float]]:
    """The addresses most of these ballots came from: (address, all its ballots in the
    poll, the share of those that include the case). `codes` is the poll's column of
    address (or /24) codes, `names` their strings."""
    counts = Counter(codes[i] for i in indices)
    counts.pop(BLANK, None)
    has, cases = poll.has_case(number), poll.cases
    rows = []
    for key, _ in counts.most_common(TOP_ADDRESSES):
        ballots = groups[key]
        including = sum(has[cases[i]] for i in ballots)
        rows.append((names[key], len(ballots), round(including / len(ballots), 3)))
    return rows


def gap_histogram(poll: Poll, indices: Sequence[int]) -> list[tuple[str, int]]:
    """Seconds between consecutive ballots."""
    times = [poll.ts[i] for i in indices]
    return _histogram((b - a for a, b in pairwise(times)), GAP_EDGES, text.GAP_LABELS)


def follow_lag_histogram(poll: Poll, indices: Sequence[int]) -> list[tuple[str, int]]:
    """Seconds from following to voting; a last row for followers with no follow time
    (NaN in `Poll.follow_lag`)."""
    lags = [poll.follow_lag[i] for i in indices]
    rows = _histogram(
        (lag for lag in lags if not math.isnan(lag)), FOLLOW_LAG_EDGES, text.FOLLOW_LAG_LABELS
    )
    unknown = sum(map(math.isnan, lags))
    return rows + [(text.UNKNOWN_LAG, unknown)] if unknown else rows


def ranks(totals: dict[int, int]) -> dict[int, int]:
    """1 + the number of cases with more votes (ties share a rank)."""
    ordered = sorted(totals.values(), reverse=True)
    first: dict[int, int] = {}
    for position, votes in enumerate(ordered, start=1):
        first.setdefault(votes, position)
    return {number: first[votes] for number, votes in totals.items()}


def _histogram(
    values: Iterable[float], edges: Sequence[float], labels: Sequence[str]
) -> list[tuple[str, int]]:
    counts = [0] * (len(edges) + 1)
    for value in values:
        position = 0
        while position < len(edges) and value >= edges[position]:
            position += 1
        counts[position] += 1
    return list(zip(labels, counts, strict=True))
