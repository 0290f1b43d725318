"""The current batch and its cases, kept in each worker's memory between changes.

Every ballot needs the current batch, its voting settings and its cases (to check
the numbers a voter chose). They change a few times a campaign but are read on
every request, so each worker keeps one snapshot in a module variable (no
pickling, unlike the cache framework's local-memory backend) and reloads it when
the content token changes — every ORM write to a batch or a case renews it (see
`casevote.freshness`) — or after CASEVOTE_PAGE_CACHE_SECONDS at most, whichever
comes first.
"""

import time
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings

from cases.models import Batch, Case
from casevote import freshness


@dataclass(frozen=True)
class Catalogue:
    batch: Batch
    cases: Mapping[int, Case]  # every case of the batch by number, disqualified ones too
    votable: tuple[Case, ...]  # the cases a ballot may name, in number order
    labels: tuple[tuple[str, str], ...]  # ("031", "031 title") for each votable case


@dataclass(frozen=True)
class _Snapshot:
    token: str
    loaded_at: float
    catalogue: Catalogue | None


_snapshot: _Snapshot | None = None


def load(batch: Batch) -> Catalogue:
    cases = {case.number: case for case in batch.cases.order_by("number")}
    votable = tuple(case for case in cases.values() if case.is_votable)
    labels = tuple((case.display_number, f"{case.display_number} {case.title}") for case in votable)
    return Catalogue(batch=batch, cases=cases, votable=votable, labels=labels)


def current() -> Catalogue | None:
    """The batch the campaign shows (the newest with cases) and its cases, or None."""
    global _snapshot
    token = freshness.version()
    now = time.time()
    snapshot = _snapshot
    if (
        snapshot is None
        or snapshot.token != token
        or abs(now - snapshot.loaded_at) > settings.CASEVOTE_PAGE_CACHE_SECONDS
    ):
        batch = Batch.objects.current()
        snapshot = _Snapshot(token, now, load(batch) if batch is not None else None)
        _snapshot = snapshot
    return snapshot.catalogue
