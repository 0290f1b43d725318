"""The published batches and their cases, kept in each worker's memory between changes.

Every ballot needs its batch, the batch's voting settings and its cases (to check the
numbers a voter chose). They change a few times a campaign but are read on every
request, so each worker keeps one snapshot in a module variable (no pickling, unlike
the cache framework's local-memory backend) and reloads it when the content token
changes — every ORM write to a batch or a case renews it (see `casevote.freshness`) —
or after CASEVOTE_PAGE_CACHE_SECONDS at most, whichever comes first.

Drafts are never in the snapshot: only published batches take ballots.
"""

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from cases.models import Batch, Case, featured_batch
from casevote import freshness


@dataclass(frozen=True)
class Catalogue:
    batch: Batch
    cases: Mapping[int, Case]  # every case of the batch by number, disqualified ones too
    votable: tuple[Case, ...]  # the cases a ballot may name, in number order
    labels: tuple[tuple[str, str], ...]  # ("031", "031 title") for each votable case


@dataclass(frozen=True)
class _Snapshot:
    token: str | None  # None: read while the shared cache was away, never reused
    loaded_at: float
    catalogues: Mapping[int, Catalogue]  # published batches by number


_snapshot: _Snapshot | None = None


def load(batch: Batch) -> Catalogue:
    cases = {case.number: case for case in batch.cases.order_by("number")}
    votable = tuple(case for case in cases.values() if case.is_votable)
    labels = tuple((case.display_number, f"{case.display_number} {case.title}") for case in votable)
    return Catalogue(batch=batch, cases=cases, votable=votable, labels=labels)


def published() -> Mapping[int, Catalogue]:
    """Every published batch with its cases, by batch number."""
    global _snapshot
    token = freshness.version()
    now = time.time()
    snapshot = _snapshot
    if (
        snapshot is None
        or token is None  # the shared cache is away: read afresh
        or snapshot.token != token
        or abs(now - snapshot.loaded_at) > settings.CASEVOTE_PAGE_CACHE_SECONDS
    ):
        batches = Batch.objects.published().order_by("number")
        snapshot = _Snapshot(token, now, {batch.number: load(batch) for batch in batches})
        _snapshot = snapshot
    return snapshot.catalogues


def of(number: int) -> Catalogue | None:
    """A published batch and its cases, or None."""
    return published().get(number)


def featured(at: datetime) -> Catalogue | None:
    """The batch the campaign shows first at `at` (see `featured_batch`), or None."""
    catalogues = published()
    batch = featured_batch((catalogue.batch for catalogue in catalogues.values()), at)
    return catalogues[batch.number] if batch is not None else None
