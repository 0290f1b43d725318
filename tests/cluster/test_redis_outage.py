"""Redis stopped for ten seconds under load, with the demo gate: nobody notices.

While the shared cache does not answer, pages render from PostgreSQL (no content token:
nothing cached is reused) and ballots are stored as ever (their rules live in the
database). The WeChat gate would answer 503 where it needs the token's lock; the demo
gate needs none, so no 5xx at all is allowed here. Each worker logs the outage once a
minute, not once a request, and never a traceback. When Redis is back the shared cache
is used again: a decision on node 0 retires node 1's cached pages at once.
"""

import threading
import time

import pytest
import redis

from tests.load.harness import audit, traceback_lines, unkept_acknowledgements
from tests.load.voters import TRACEBACK_MARKERS, summary

from .residents import (
    Committee,
    Residents,
    case_pk,
    failures_by_kind,
    port_of,
    read,
    stored_of,
    warm,
)

pytestmark = [pytest.mark.cluster, pytest.mark.postgres]

VOTERS = 12
OUTAGE_AT = 5.0
OUTAGE_SECONDS = 10.0
LOAD_AFTER = 6.0
PAGES = ["/", "/cases/031/", "/results/", "/batches/2/", "/announcements/", "/vote/"]
DISQUALIFIED_AFTER = 32
UNAVAILABLE_LOG = "Shared cache (Redis) unavailable"
BACK_LOG = "Shared cache (Redis) answers again"
RECOVERY_TIMEOUT = 10.0


def read_pages_until(ports: list[int], until: float, seen: list[tuple[int, str, int, str]]):
    """A visitor reading every public page on every port, again and again."""
    while time.monotonic() < until:
        for port in ports:
            for path in PAGES:
                page = read(port, path)
                seen.append((port, path, page.status, page.text))


def test_ten_seconds_without_redis_cost_no_page_and_no_ballot(default_cluster):
    cluster = default_cluster
    nginx = port_of(cluster.url)
    node0, node1 = (port_of(node.base_url) for node in cluster.nodes)
    run = Residents(
        nginx, count=VOTERS, seconds=OUTAGE_AT + OUTAGE_SECONDS + LOAD_AFTER, retriers=True
    ).start()
    time.sleep(max(0.0, OUTAGE_AT - run.since_start()))
    acks_before = len(run.stats.acks)
    pages: list[tuple[int, str, int, str]] = []
    try:
        cluster.stop_redis()
        stopped = time.monotonic()
        reader = threading.Thread(
            target=read_pages_until, args=([nginx, node0, node1], stopped + OUTAGE_SECONDS, pages)
        )
        reader.start()
        reader.join(OUTAGE_SECONDS + 30)
        time.sleep(max(0.0, stopped + OUTAGE_SECONDS - time.monotonic()))
    finally:
        cluster.start_redis()
    returned = time.monotonic()
    stats = run.join()
    found = audit(cluster.direct_database_url)
    during = [ack for ack in stats.acks if stopped < ack.at < returned]
    after = [ack for ack in stats.acks if ack.at > returned]
    logs = {f"node {index}": node.log() for index, node in enumerate(cluster.nodes)}
    said = {name: log.count(UNAVAILABLE_LOG) for name, log in logs.items()}

    print(f"\n[cluster] Redis stopped {returned - stopped:.1f} s: {summary(stats, run.elapsed)}")
    print(
        f"[cluster] failed requests by kind: {failures_by_kind(stats)}; ballots acknowledged "
        f"{len(stats.acks)} ({acks_before} before, {len(during)} during, {len(after)} after "
        f"the outage), {stored_of(stats, found)} of them stored; "
        f"pages read during it: {len(pages)}; "
        f"'{UNAVAILABLE_LOG}' logged {said}"
    )
    failed_pages = [(port, path, status) for port, path, status, _ in pages if status != 200]
    assert not failed_pages, f"pages not served while Redis was down: {failed_pages[:20]}"
    broken = [(port, path) for port, path, _, text in pages if "</html>" not in text]
    assert not broken, f"pages served incomplete while Redis was down: {broken[:20]}"
    leaked = [
        (port, path) for port, path, _, text in pages if any(m in text for m in TRACEBACK_MARKERS)
    ]
    assert not leaked, f"pages showed internals while Redis was down: {leaked[:20]}"
    assert stats.server_error_count() == 0, (
        "the residents met server errors (the demo gate promises none while Redis is "
        f"down): {stats.server_errors[:5]}"
    )
    assert stats.failures == [], "wrong answers to residents:\n" + "\n".join(stats.failures)
    assert during, "no ballot was acknowledged while Redis was down"
    assert after, "no ballot was acknowledged after Redis came back"
    assert not unkept_acknowledgements(stats.acks, found), unkept_acknowledgements(
        stats.acks, found
    )
    assert found.duplicates_per_period == [] and found.duplicates_per_day == [], (
        "a follower has two ballots in one voting period"
    )
    for name, log in logs.items():
        assert traceback_lines(log) == [], f"{name} logged a traceback: {traceback_lines(log)}"
    assert sum(said.values()) > 0, "no node logged that Redis was unavailable: was it stopped?"
    assert all(count <= 2 * 2 for count in said.values()), (
        f"the outage was logged per request, not once a minute per worker: {said}"
    )

    # Recovery: the shared cache holds the content token again, and a decision on node 0
    # retires node 1's copies at once.
    client = redis.Redis.from_url(cluster.redis_url)
    deadline = time.monotonic() + RECOVERY_TIMEOUT
    while client.dbsize() == 0 and time.monotonic() < deadline:
        read(nginx, "/")
        time.sleep(0.1)
    assert client.dbsize() > 0, f"Redis is still empty {RECOVERY_TIMEOUT} s after it came back"
    case_page = f"/cases/{DISQUALIFIED_AFTER:03d}/"
    warm(node1, [case_page])
    Committee(node0).sign_in().disqualify(
        case_pk(cluster.direct_database_url, DISQUALIFIED_AFTER), DISQUALIFIED_AFTER
    )
    shown = read(node1, case_page)
    assert shown.status == 200 and "该案例已被取消推选资格" in shown.text, (
        "after Redis came back, a disqualification on node 0 did not show on node 1's next "
        "request: the nodes do not share the content token again"
    )
    assert any(BACK_LOG in log for log in (node.log() for node in cluster.nodes)), (
        "no node logged that Redis answers again"
    )
