"""One process at a time, across every worker: a lock beside the shared cache.

The access token is refreshed by one worker while the others wait briefly for it
(ballots.follow.wechat_api). The workers share only the "shared" cache, so the lock
lives there. Django's file-based cache (the default, casevote/settings.py) has no
atomic `add()` (it checks, then writes), so with it the lock is an `flock()` on a file
in the cache's folder: the kernel grants it to one open file at a time, whichever
process or thread asks, and releases it if the holder dies. Any other cache backend
(database, Redis, Memcached) has an atomic `add()`, and a lock there is a key that
expires after `hold` seconds should its holder die.
"""

import fcntl
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import caches
from django.core.cache.backends.filebased import FileBasedCache

POLL_SECONDS = 0.05


@contextmanager
def held(name: str, wait: float, hold: float = 30) -> Iterator[bool]:
    """Try for `wait` seconds to hold the lock `name`; yields whether this caller holds
    it (the caller decides what to do if not: use what the holder produced, or give up)."""
    shared = caches["shared"]
    if isinstance(shared, FileBasedCache):
        with _file_lock(shared._dir, name, wait) as got:
            yield got
    else:
        with _cache_lock(shared, name, wait, hold) as got:
            yield got


@contextmanager
def _file_lock(folder: str, name: str, wait: float) -> Iterator[bool]:
    os.makedirs(folder, exist_ok=True)
    fd = os.open(os.path.join(folder, f"{name}.lock"), os.O_CREAT | os.O_RDWR, 0o600)
    try:
        got = _poll(lambda: _try_flock(fd), wait)
        try:
            yield got
        finally:
            if got:
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextmanager
def _cache_lock(shared, name: str, wait: float, hold: float) -> Iterator[bool]:
    key, owner = f"casevote:lock:{name}", secrets.token_hex(8)
    got = _poll(lambda: shared.add(key, owner, hold), wait)
    try:
        yield got
    finally:
        if got and shared.get(key) == owner:
            shared.delete(key)


def _poll(attempt, wait: float) -> bool:
    end = time.monotonic() + max(wait, 0)
    while True:
        if attempt():
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(POLL_SECONDS)
