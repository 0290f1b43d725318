"""The cache every app server shares: Redis when CASEVOTE_SHARED_CACHE_URL says so, its
locks and counters exact under concurrency, and a site that keeps working, and says so
once, when Redis does not answer."""

import logging
import socket
import threading
from collections import Counter

import pytest
from django.core.cache import caches

from ballots.models import Ballot
from cases.models import Case
from casevote import freshness, sharedcache
from casevote.sharedcache import SharedCacheUnavailable
from tests.conftest import redis_cache_settings
from tests.test_deploy import production_env, run_python
from tools.harness import LOOPBACK, free_port

THREADS = 8

# --- Settings and system checks -----------------------------------------------------------


def test_production_on_the_file_cache_is_warned_about(tmp_path):
    env = production_env(tmp_path, CASEVOTE_DEMO_GATE="1")

    deploy = run_python(env, "manage.py", "check", "--deploy")
    plain = run_python(env, "manage.py", "check")

    assert "casevote.W030" in deploy.stderr and "one app server" in deploy.stderr
    assert "casevote.W030" not in plain.stderr  # `make serve` on one machine is fine


def test_production_on_redis_is_not_warned_about(tmp_path):
    env = production_env(
        tmp_path, CASEVOTE_DEMO_GATE="1", CASEVOTE_SHARED_CACHE_URL="redis://cache.internal:6379/0"
    )

    deploy = run_python(env, "manage.py", "check", "--deploy")

    assert "casevote.W030" not in deploy.stderr and "casevote.E030" not in deploy.stderr


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://cache.internal:6379/0", "the scheme must be redis://"),
        ("cache.internal:6379", "the scheme must be redis://"),
        ("redis://", "there is no host"),
        ("redis://cache.internal:port/0", "does not parse"),
        ("redis://cache.internal:6379/cache", "must be a number"),
        ("unix://", "needs the socket's path"),
    ],
)
def test_a_malformed_redis_url_is_an_error_that_stops_the_server(tmp_path, url, problem):
    env = production_env(tmp_path, CASEVOTE_DEMO_GATE="1", CASEVOTE_SHARED_CACHE_URL=url)

    check = run_python(env, "manage.py", "check")
    server = run_python(env, "-c", "import casevote.wsgi")

    assert check.returncode != 0
    assert "casevote.E030" in check.stderr and problem in check.stderr
    assert server.returncode != 0 and "casevote.E030" in server.stderr


@pytest.mark.parametrize(
    "url",
    ["redis://127.0.0.1:6379/0", "rediss://:secret@cache.internal:6380/2", "unix:///run/r.sock"],
)
def test_well_formed_redis_urls_pass(url):
    assert sharedcache.url_problem(url) is None


# --- Locks and counters on Redis ------------------------------------------------------------


def in_threads(work, count: int = THREADS) -> list:
    """Run `work()` in `count` threads released together; their results. Each thread
    has its own cache connection, as each worker process does."""
    start, results = threading.Barrier(count), [None] * count

    def run(index: int) -> None:
        start.wait()
        results[index] = work()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


@pytest.mark.redis
def test_one_of_eight_concurrent_workers_gets_the_lock(redis_cache):
    losers, counting, all_gave_up = [], threading.Lock(), threading.Event()

    def work() -> bool:
        with sharedcache.lock("refresh", wait=0.3) as mine:
            if mine:
                all_gave_up.wait(10)  # hold it until every other worker has given up
            else:
                with counting:
                    losers.append(1)
                    if len(losers) == THREADS - 1:
                        all_gave_up.set()
            return mine

    results = in_threads(work)

    assert Counter(results) == Counter({True: 1, False: THREADS - 1})
    with sharedcache.lock("refresh", wait=0) as mine:
        assert mine  # released by its holder


@pytest.mark.redis
def test_a_lock_whose_holder_died_frees_itself_and_is_not_released_by_it(redis_cache):
    client, key = redis_cache.client(), caches["shared"].make_key("casevote:lock:refresh")
    first = sharedcache.lock("refresh", wait=0, hold=30)
    assert first.__enter__()
    assert 0 < client.pttl(key) <= 30_000  # every lock expires on its own
    client.delete(key)  # as if its expiry had passed (its holder stalled or died)
    second = sharedcache.lock("refresh", wait=0)
    assert second.__enter__()  # another worker takes it

    first.__exit__(None, None, None)  # the first holder finishes late
    assert client.get(key) is not None, "the late holder released another worker's lock"

    second.__exit__(None, None, None)
    assert client.get(key) is None


@pytest.mark.redis
def test_counters_are_exact_across_eight_concurrent_workers_and_expire(redis_cache):
    def work() -> list[int]:
        return [sharedcache.count("casevote:test-counter", 3600) for _ in range(25)]

    values = [value for result in in_threads(work) for value in result]

    assert sorted(values) == list(range(1, THREADS * 25 + 1))
    ttl = redis_cache.client().ttl(caches["shared"].make_key("casevote:test-counter"))
    assert 0 < ttl <= 3600


def test_counters_on_the_file_cache_keep_their_window(settings):
    assert caches["shared"].__class__.__name__ == "FileBasedCache"
    values = in_threads(lambda: [sharedcache.count("casevote:file-counter", 60) for _ in range(5)])

    assert sorted(value for result in values for value in result) == list(range(1, 41))


@pytest.mark.redis
def test_a_change_renews_every_workers_pages_through_redis(client, batch2_loaded, redis_cache):
    assert "（更正）" not in client.get("/cases/032/").content.decode()
    token = freshness.version()

    Case.objects.filter(number=32).update(title="更正后的名称（更正）")

    assert freshness.version() != token
    assert redis_cache.client().dbsize() > 0
    assert "（更正）" in client.get("/cases/032/").content.decode()


# --- Redis unreachable --------------------------------------------------------------------


@pytest.fixture
def redis_away(settings, monkeypatch):  # also in test_wechat_deployment
    """The shared cache points at a port nobody listens on."""
    monkeypatch.setattr(sharedcache, "HEALTH", sharedcache._Health())
    monkeypatch.setattr(freshness, "_renewal_owed", False)
    settings.CACHES = {
        **settings.CACHES,
        "shared": redis_cache_settings(f"redis://{LOOPBACK}:{free_port()}/0"),
    }
    caches["default"].clear()


def test_without_redis_pages_and_ballots_work_from_the_database(redis_away, voter, cast, caplog):
    caplog.set_level(logging.WARNING, logger="casevote.sharedcache")

    pages = [voter.get(path) for path in ("/", "/cases/031/", "/results/", "/cases/031/poster.png")]
    ballot = cast(["031", "033"])

    assert [page.status_code for page in pages] == [200, 200, 200, 200]
    assert ballot.status_code == 302 and Ballot.objects.count() == 1
    assert freshness.version() is None
    records = caplog.get_records("setup") + caplog.records  # the gate was met in setup
    warnings = [record for record in records if "unavailable" in record.getMessage()]
    assert len(warnings) == 1, "said once, not once a request"


def test_without_redis_nothing_cached_earlier_is_served(redis_away, client, batch2_loaded):
    assert "（更正）" not in client.get("/cases/032/").content.decode()

    Case.objects.filter(number=32).update(title="更正后的名称（更正）")

    assert "（更正）" in client.get("/cases/032/").content.decode()


@pytest.mark.redis
def test_a_change_made_while_redis_was_away_renews_the_pages_when_it_answers(
    client, batch2_loaded, redis_cache, settings, monkeypatch
):
    monkeypatch.setattr(sharedcache, "RETRY_SECONDS", 0)
    assert "（更正）" not in client.get("/cases/032/").content.decode()  # cached under the token
    reachable = settings.CACHES["shared"]

    settings.CACHES = {
        **settings.CACHES,
        "shared": redis_cache_settings(f"redis://{LOOPBACK}:{free_port()}/0"),
    }
    Case.objects.filter(number=32).update(title="更正后的名称（更正）")  # cannot renew the token
    settings.CACHES = {**settings.CACHES, "shared": reachable}

    assert "（更正）" in client.get("/cases/032/").content.decode()


def test_a_redis_that_does_not_answer_is_not_asked_again_at_once(settings, monkeypatch):
    """A Redis that accepts and never answers costs one timeout, not one per request."""
    monkeypatch.setattr(sharedcache, "HEALTH", sharedcache._Health())
    listener = socket.create_server((LOOPBACK, 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    acceptor = threading.Thread(target=accept)
    acceptor.start()
    try:
        settings.CACHES = {
            **settings.CACHES,
            "shared": {
                **redis_cache_settings(f"redis://{LOOPBACK}:{listener.getsockname()[1]}/0"),
                "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
            },
        }
        failures = 0
        for _ in range(20):
            try:
                caches["shared"].get("casevote:content-token")
            except SharedCacheUnavailable:
                failures += 1
    finally:
        stop.set()
        acceptor.join(5)
        for connection in accepted:
            connection.close()
        listener.close()

    assert failures == 20
    assert len(accepted) == 1
