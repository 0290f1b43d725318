"""The cache every app server shares: Redis in production, a folder on one machine.

`CACHES["shared"]` holds what the workers of every node must agree on: the content token
(casevote.freshness), WeChat's access token and jsapi_ticket with the locks that let one
worker fetch them, the WeChat circuit breaker, the "still following" answers, the tally
and the posters, the report look-up limit. `CASEVOTE_SHARED_CACHE_URL=redis://...` puts it
in Redis (Django's own RedisCache, through `RedisSharedCache` below); without it, it is
a folder on the local disk (`make serve`, one machine only: `check --deploy` says so).

Three things here that Django's cache API does not give:

- **A lock** (`lock`): on Redis a key set with SET NX and an expiry, released only by
  its owner (a compare-and-delete script), so a holder that dies frees it after `hold`
  seconds; on the file cache an `flock()` beside the cache's files (its `add()` checks,
  then writes: not atomic).
- **A counter with a window** (`count`): on Redis one MULTI of SET NX EX and INCR, so the
  window starts at the first count and a counter never outlives it; on the file cache
  the same under the lock.
- **Failing fast and saying so once.** A Redis that does not answer raises
  `SharedCacheUnavailable` at once; after a failure this process does not knock again for
  RETRY_SECONDS, and the log says so once a minute, not once a request. Each caller
  decides what the site does meanwhile: pages render from the database, counts are kept
  per worker, and WeChat calls that need a lock answer 503 rather than let every worker
  ask WeChat for a token at once.
"""

import fcntl
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from urllib.parse import urlsplit

import redis
from django.core.cache import caches
from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)

ALIAS = "shared"
RETRY_SECONDS = 1.0  # after a failure, this process answers "unavailable" without asking
LOG_EVERY_SECONDS = 60
POLL_SECONDS = 0.05
REDIS_SCHEMES = ("redis", "rediss", "unix")

# Deletes the lock only if it still holds this owner's value (it may have expired and
# been taken by another worker since).
_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)


class SharedCacheUnavailable(Exception):
    """The shared cache (Redis) did not answer; the caller degrades or refuses."""


# --- Settings ------------------------------------------------------------------------


def url_problem(url: str) -> str | None:
    """Why CASEVOTE_SHARED_CACHE_URL cannot be used, or None (also for an empty one)."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
        port, path = parts.port, parts.path.strip("/")
    except ValueError as error:
        return f"it does not parse ({error})"
    if parts.scheme not in REDIS_SCHEMES:
        return "the scheme must be redis://, rediss:// or unix://"
    if parts.scheme == "unix":
        return None if parts.path else "a unix:// URL needs the socket's path"
    if not parts.hostname:
        return "there is no host"
    if port == 0:
        return "the port must be 1-65535"
    if path and not path.isdigit():
        return f"the database after the host must be a number, not {path!r}"
    return None


def uses_redis() -> bool:
    return isinstance(caches[ALIAS], RedisCache)


# --- The Redis backend -----------------------------------------------------------------


class _Health:
    """This process's view of Redis: down until when, and when it last said so."""

    def __init__(self) -> None:
        self.down_until = 0.0
        self.down_since: float | None = None
        self.logged_at = float("-inf")
        self.failures = 0
        self.lock = threading.Lock()

    def check(self) -> None:
        if time.monotonic() < self.down_until:
            raise SharedCacheUnavailable("Redis did not answer a moment ago")

    def failed(self, error: Exception) -> None:
        now = time.monotonic()
        with self.lock:
            self.down_until = now + RETRY_SECONDS
            self.failures += 1
            if self.down_since is None:
                self.down_since = now
            if now - self.logged_at < LOG_EVERY_SECONDS:
                return
            self.logged_at, failures, self.failures = now, self.failures, 0
        logger.warning(
            "Shared cache (Redis) unavailable: %s (%s failed calls in this process since the "
            "last message). Pages render from the database; WeChat sign-ins answer 503.",
            error,
            failures,
        )

    def answered(self) -> None:
        if self.down_since is None:
            return
        with self.lock:
            since, self.down_since, self.failures = self.down_since, None, 0
            self.logged_at = float("-inf")
        if since is not None:
            logger.warning(
                "Shared cache (Redis) answers again after %.0f s.", time.monotonic() - since
            )


HEALTH = _Health()


def _guarded(method: Callable) -> Callable:
    @wraps(method)
    def call(self, *args, **kwargs):
        HEALTH.check()
        try:
            result = method(self, *args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError) as error:
            HEALTH.failed(error)
            raise SharedCacheUnavailable(str(error)) from error
        HEALTH.answered()
        return result

    return call


class RedisSharedCache(RedisCache):
    """Django's RedisCache, failing fast with SharedCacheUnavailable while Redis does not
    answer, with an atomic windowed counter and an owner-checked lock."""

    add = _guarded(RedisCache.add)
    get = _guarded(RedisCache.get)
    set = _guarded(RedisCache.set)
    touch = _guarded(RedisCache.touch)
    delete = _guarded(RedisCache.delete)
    get_many = _guarded(RedisCache.get_many)
    has_key = _guarded(RedisCache.has_key)
    incr = _guarded(RedisCache.incr)
    set_many = _guarded(RedisCache.set_many)
    delete_many = _guarded(RedisCache.delete_many)
    clear = _guarded(RedisCache.clear)

    def _client_and_key(self, key: str):
        key = self.make_and_validate_key(key)
        return self._cache.get_client(key, write=True), key

    @_guarded
    def count(self, key: str, window: int) -> int:
        client, key = self._client_and_key(key)
        pipeline = client.pipeline(transaction=True)
        pipeline.set(key, 0, ex=window, nx=True)
        pipeline.incr(key)
        return pipeline.execute()[1]

    @_guarded
    def acquire(self, key: str, owner: str, hold: float) -> bool:
        client, key = self._client_and_key(key)
        return bool(client.set(key, owner, px=max(int(hold * 1000), 1), nx=True))

    @_guarded
    def release(self, key: str, owner: str) -> None:
        client, key = self._client_and_key(key)
        client.eval(_RELEASE, 1, key, owner)


# --- Locks and counters, whichever backend ---------------------------------------------


@contextmanager
def lock(name: str, wait: float, hold: float = 30) -> Iterator[bool]:
    """Try for `wait` seconds to hold the lock `name` across every worker and node; yields
    whether this caller holds it (the caller decides what to do if not: use what the
    holder produced, or give up). Raises SharedCacheUnavailable while Redis is away."""
    shared = caches[ALIAS]
    if isinstance(shared, FileBasedCache):
        with _file_lock(shared._dir, name, wait) as got:
            yield got
    elif isinstance(shared, RedisSharedCache):
        with _redis_lock(shared, name, wait, hold) as got:
            yield got
    else:  # another backend with an atomic add() (the database, Memcached)
        with _add_lock(shared, name, wait, hold) as got:
            yield got


def count(key: str, window: int) -> int:
    """Count one more in `key`, a counter that lives `window` seconds from its first
    count; returns the new value. Exact under concurrency on every node (Redis) or every
    worker of this machine (the file cache)."""
    shared = caches[ALIAS]
    if isinstance(shared, RedisSharedCache):
        return shared.count(key, window)
    with lock(f"count-{key}", wait=5) as got:
        if not got:
            raise SharedCacheUnavailable(f"the lock on the counter {key} was not free")
        # (count, when the window started): a plain set() would restart the expiry.
        value, started = shared.get(key) or (0, time.time())
        left = window - (time.time() - started)
        if left <= 0:
            value, started, left = 0, time.time(), window
        shared.set(key, (value + 1, started), max(int(left), 1))
        return value + 1


def _lock_key(name: str) -> str:
    return f"casevote:lock:{name}"


@contextmanager
def _redis_lock(shared: RedisSharedCache, name: str, wait: float, hold: float) -> Iterator[bool]:
    key, owner = _lock_key(name), secrets.token_hex(8)
    got = _poll(lambda: shared.acquire(key, owner, hold), wait)
    try:
        yield got
    finally:
        if got:
            try:
                shared.release(key, owner)
            except SharedCacheUnavailable:
                pass  # it expires after `hold` seconds


@contextmanager
def _add_lock(shared, name: str, wait: float, hold: float) -> Iterator[bool]:
    key, owner = _lock_key(name), secrets.token_hex(8)
    got = _poll(lambda: shared.add(key, owner, hold), wait)
    try:
        yield got
    finally:
        if got and shared.get(key) == owner:
            shared.delete(key)


@contextmanager
def _file_lock(folder: str, name: str, wait: float) -> Iterator[bool]:
    """The kernel grants an flock() to one open file at a time, whichever process or
    thread asks, and releases it if the holder dies."""
    os.makedirs(folder, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    fd = os.open(os.path.join(folder, f"{safe}.lock"), os.O_CREAT | os.O_RDWR, 0o600)
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


def _poll(attempt: Callable[[], bool], wait: float) -> bool:
    end = time.monotonic() + max(wait, 0)
    while True:
        if attempt():
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(POLL_SECONDS)
