"""Knowing when cached pages and tallies are stale, across worker processes.

Each gunicorn worker keeps rendered pages in its own memory (the fast path). What
they share is a tiny *version token* per scope, kept in the "shared" cache (files
on local disk by default): a write bumps the token after its transaction commits,
and every worker's cached copy keyed by the old token is no longer used.

Scopes: "catalogue" (batches, cases, announcements, published lists) and "tally"
(what counts: voids, restores, disqualifications).
"""

import secrets

from django.core.cache import caches
from django.db import transaction

CATALOGUE = "catalogue"
TALLY = "tally"
VERSION_TIMEOUT = None  # until bumped


def _key(scope: str) -> str:
    return f"casevote:version:{scope}"


def version(scope: str) -> str:
    shared = caches["shared"]
    token = shared.get(_key(scope))
    if token is None:
        token = secrets.token_hex(8)
        if not shared.add(_key(scope), token, VERSION_TIMEOUT):
            token = shared.get(_key(scope), token)
    return token


def bump(*scopes: str) -> None:
    """Mark `scopes` changed: now, and again when the current transaction commits.

    The second bump matters: a worker that re-rendered between the first bump and
    the commit cached the old data under the new token; the commit retires it.
    """

    def renew() -> None:
        for scope in scopes:
            caches["shared"].set(_key(scope), secrets.token_hex(8), VERSION_TIMEOUT)

    renew()
    transaction.on_commit(renew)
