"""Serialising the writers that count before they decide, per address, on PostgreSQL.

A budget ("at most 120 ballots an hour from one address") is checked by counting rows
inside the writer's transaction. Under READ COMMITTED two concurrent writers do not see
each other's uncommitted rows, so both can pass at 120 and store 121 and 122. A
transaction-level advisory lock on the address's /24 (IPv6 /48) makes the writers from
one network take turns: the second counts after the first has committed. Writers from
other networks never wait (a hash collision only makes two networks take turns).

SQLite needs nothing: its writers are serialised already (IMMEDIATE transactions).
"""

import hashlib

from django.db import connection

SCOPES = {
    "ballot": 1,
    "follow": 2,
    "report": 3,
}  # what is being counted, so they never wait on each other


def lock_id(scope: str, key: str) -> int:
    """A signed 64-bit lock id for `key` within `scope`."""
    digest = hashlib.blake2b(key.encode(), digest_size=7).digest()
    return SCOPES[scope] << 56 | int.from_bytes(digest, "big")


def take_turns(scope: str, key: str) -> None:
    """Wait until no other transaction holds (`scope`, `key`); hold it until this one ends.
    Call inside `transaction.atomic()`, before the rows are counted."""
    if not key or connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id(scope, key)])
