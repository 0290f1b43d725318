"""Knowing, in every worker process, that what the public sees has changed.

Workers keep what they built from the database in their own memory (rendered pages,
the ballot's catalogue, the vote count's key). What they share is one tiny *content
token*, kept in the "shared" cache (Redis on several machines, a folder on one): every
write to a model whose rows the public sees renews it, and every copy built under the
old token is no longer used, on every node.

While the shared cache does not answer there is no token: `version()` says None, and
nothing built earlier is reused (pages render from the database). A renewal that could
not be written is made by this process as soon as the cache answers again, so a
decision taken during the outage retires every node's copies then.

Nobody calls `changed()` by hand. A model opts in once, where it is defined:

- `ContentModel` (abstract): `save()` and `delete()` renew the token;
- `ContentQuerySet`: `update()`, `bulk_update()`, `bulk_create()` and `delete()` do.

So the admin, management commands, the committee's decisions and a queryset
`update()` typed into the shell all invalidate at once, and a new write path cannot
forget to. (Raw SQL bypasses the ORM; workers then catch up within
`CASEVOTE_PAGE_CACHE_SECONDS`.)
"""

import secrets

from django.core.cache import caches
from django.db import models, transaction

from casevote.sharedcache import SharedCacheUnavailable

CACHE_KEY = "casevote:content-token"
TOKEN_TIMEOUT = None  # until renewed

# A renewal this process could not write while the shared cache was away.
_renewal_owed = False


def version() -> str | None:
    """The current content token, part of every cache key built from public content;
    None while the shared cache does not answer (then reuse nothing)."""
    global _renewal_owed
    shared = caches["shared"]
    try:
        if _renewal_owed:
            _renew()
            _renewal_owed = False
        token = shared.get(CACHE_KEY)
        if token is None:
            token = secrets.token_hex(8)
            if not shared.add(CACHE_KEY, token, TOKEN_TIMEOUT):
                token = shared.get(CACHE_KEY, token)
    except SharedCacheUnavailable:
        return None
    return token


def _renew() -> None:
    caches["shared"].set(CACHE_KEY, secrets.token_hex(8), TOKEN_TIMEOUT)


def changed() -> None:
    """Public content changed: renew the token now, and again when the transaction commits.

    The second renewal matters: a worker that rebuilt a copy between the first one and
    the commit read the old rows under the new token; the commit retires that copy.
    Outside a transaction both happen at once.
    """

    def renew() -> None:
        global _renewal_owed
        try:
            _renew()
        except SharedCacheUnavailable:
            _renewal_owed = True

    renew()
    transaction.on_commit(renew)


class ContentQuerySet(models.QuerySet):
    """A queryset whose bulk writes change what the public sees."""

    def update(self, **kwargs) -> int:
        rows = super().update(**kwargs)
        if rows:
            changed()
        return rows

    def bulk_update(self, objs, fields, batch_size=None) -> int:
        rows = super().bulk_update(objs, fields, batch_size=batch_size)
        if rows:
            changed()
        return rows

    def bulk_create(self, objs, *args, **kwargs):
        created = super().bulk_create(objs, *args, **kwargs)
        if created:
            changed()
        return created

    def delete(self):
        deleted = super().delete()
        changed()
        return deleted


class ContentModel(models.Model):
    """A model whose rows the public sees: saving or deleting one renews the token."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        changed()

    def delete(self, *args, **kwargs):
        deleted = super().delete(*args, **kwargs)
        changed()
        return deleted
