"""Counting valid votes per case.

Aggregation over the choice rows of valid ballots, cached for a short time
(`CASEVOTE_RESULTS_CACHE_SECONDS`): one query per batch per cache period however many
people read the results. Voided ballots are never counted. Decisions call
`forget_tally`, which makes every worker recount at once; new ballots show within
the cache period.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count

from ballots.models import Ballot, Choice
from cases import freshness
from cases.models import Batch, Case


def _cache_key(batch_id: int) -> str:
    return f"casevote:tally:{freshness.version(freshness.TALLY)}:{batch_id}"


def count_votes(batch: Batch) -> tuple[dict[int, int], int]:
    """Valid votes per case id (cases with no vote are absent), and valid ballots."""
    key = _cache_key(batch.pk)
    cached = cache.get(key)
    if cached is None:
        rows = (
            Choice.objects.filter(ballot__batch=batch, ballot__status=Ballot.Status.VALID)
            .values("case_id")
            .annotate(votes=Count("id"))
            .values_list("case_id", "votes")
        )
        ballots = Ballot.objects.valid().filter(batch=batch).count()
        cached = (dict(rows), ballots)
        timeout = settings.CASEVOTE_RESULTS_CACHE_SECONDS
        if timeout:
            cache.set(key, cached, timeout)
    return cached


def forget_tally() -> None:
    """After a decision changes what counts: every worker recounts (on commit)."""
    freshness.bump(freshness.TALLY)


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


def results(batch: Batch) -> Results:
    """Candidates ranked by valid votes (ties share a rank), disqualified cases apart."""
    counts, total = count_votes(batch)
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
    return Results(ranked, disqualified, total)
