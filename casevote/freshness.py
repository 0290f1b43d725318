"""Knowing, in every worker process, that what the public sees has changed.

Workers keep what they built from the database in their own memory (rendered pages,
the ballot's catalogue, the vote count's key). What they share is one tiny *content
token*, kept in the "shared" cache (files on local disk by default): every write to
a model whose rows the public sees renews it, and every copy built under the old
token is no longer used.

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

CACHE_KEY = "casevote:content-token"
TOKEN_TIMEOUT = None  # until renewed


def version() -> str:
    """The current content token: part of every cache key built from public content."""
    shared = caches["shared"]
    token = shared.get(CACHE_KEY)
    if token is None:
        token = secrets.token_hex(8)
        if not shared.add(CACHE_KEY, token, TOKEN_TIMEOUT):
            token = shared.get(CACHE_KEY, token)
    return token


def changed() -> None:
    """Public content changed: renew the token now, and again when the transaction commits.

    The second renewal matters: a worker that rebuilt a copy between the first one and
    the commit read the old rows under the new token; the commit retires that copy.
    Outside a transaction both happen at once.
    """

    def renew() -> None:
        caches["shared"].set(CACHE_KEY, secrets.token_hex(8), TOKEN_TIMEOUT)

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
