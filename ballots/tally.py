"""Counting valid votes per case.

Aggregation over the choice rows of valid ballots (about two seconds at a million
ballots), shared by all workers through the "shared" cache and renewed every
`CASEVOTE_RESULTS_CACHE_SECONDS`. When a count is due, one request recounts while
every other keeps serving the previous count (stale while revalidating), so readers
never queue behind a recount. Voided ballots are never counted: a ballot's status
changes through its queryset, which renews the content token (`casevote.freshness`)
that is part of the count's key, so the next reader counts afresh; new ballots show
within the period. While the shared cache does not answer, each worker keeps a count
of its own for the period (a void then shows within the period, not at once).
"""

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.db.models import Count

from ballots.models import Ballot, Choice
from cases.models import Batch, Case
from casevote import freshness
from casevote.sharedcache import SharedCacheUnavailable

RECOUNT_LOCK_SECONDS = 120  # a recount that died lets another start after this
KEEP_SECONDS = 24 * 3600  # a count nobody renews is dropped eventually


@dataclass(frozen=True)
class VoteCount:
    votes: dict[int, int]  # valid votes per case id; cases with no vote are absent
    ballots: int  # valid ballots
    counted_at: float  # time.time()


def _count(batch: Batch) -> VoteCount:
    rows = (
        Choice.objects.filter(ballot__batch=batch, ballot__status=Ballot.Status.VALID)
        .values("case_id")
        .annotate(votes=Count("id"))
        .values_list("case_id", "votes")
    )
    ballots = Ballot.objects.valid().filter(batch=batch).count()
    return VoteCount(dict(rows), ballots, time.time())


def count_votes(batch: Batch) -> tuple[dict[int, int], int]:
    """Valid votes per case id (cases with no vote are absent), and valid ballots."""
    counted = current_count(batch)
    return counted.votes, counted.ballots


def current_count(batch: Batch) -> VoteCount:
    """The batch's count: the shared one while it is fresh, else counted now."""
    period = settings.CASEVOTE_RESULTS_CACHE_SECONDS
    if not period:
        return _count(batch)
    token = freshness.version()
    if token is not None:
        try:
            return _kept_count(caches["shared"], shared_key(token, batch.pk), batch)
        except SharedCacheUnavailable:
            pass
    return _kept_count(caches["default"], f"casevote:tally:this-worker:{batch.pk}", batch)


def shared_key(token: str, batch_id: int) -> str:
    return f"casevote:tally:{token}:{batch_id}"


def _kept_count(cache: BaseCache, key: str, batch: Batch) -> VoteCount:
    counted = cache.get(key)
    due = (
        counted is None
        or abs(time.time() - counted.counted_at) >= settings.CASEVOTE_RESULTS_CACHE_SECONDS
    )
    if due and (counted is None or cache.add(f"{key}:recount", 1, RECOUNT_LOCK_SECONDS)):
        try:
            counted = _count(batch)
            cache.set(key, counted, KEEP_SECONDS)
        finally:
            cache.delete(f"{key}:recount")
    return counted


@dataclass(frozen=True)
class Standing:
    case: Case
    votes: int
    rank: int | None  # None for a disqualified case: it is listed apart


@dataclass(frozen=True)
class Results:
    candidates: list[Standing]
    disqualified: list[Standing]
    total_ballots: int
    counted_at: datetime  # when the votes shown were counted


def results(batch: Batch) -> Results:
    """Candidates ranked by valid votes (ties share a rank), disqualified cases apart."""
    counted = current_count(batch)
    counts = counted.votes
    candidates, disqualified = [], []
    for case in sorted(batch.cases.all(), key=lambda c: (-counts.get(c.pk, 0), c.number)):
        if case.status == Case.Status.DISQUALIFIED:
            disqualified.append(Standing(case, counts.get(case.pk, 0), None))
        else:
            candidates.append(case)
    ranked: list[Standing] = []
    for position, case in enumerate(candidates, start=1):
        votes = counts.get(case.pk, 0)
        tied = ranked and ranked[-1].votes == votes
        ranked.append(Standing(case, votes, ranked[-1].rank if tied else position))
    counted_at = datetime.fromtimestamp(counted.counted_at, tz=UTC)
    return Results(ranked, disqualified, counted.ballots, counted_at)
