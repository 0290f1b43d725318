"""WeChat's access token and circuit breaker are one per cluster, not one per node.

The nodes run the WeChat gate against a fake WeChat (tests/fake_wechat.py). Case pages
carry a share card signed with the jsapi_ticket, which is fetched with the access token:
eight case pages asked at once, four from each node, need one token between them, and
WeChat must be asked for it once (each `stable_token` call counts against the account's
daily quota; with a lock per node, each node would ask). And when one node's calls to
WeChat fail until the breaker opens, the other node must hold back too.
"""

import threading
import time

import pytest
import redis

from tests.fake_wechat import APP_ID, APP_SECRET, OAUTH_DOMAIN, FakeWeChat
from tests.wechat_phone import WECHAT_UA, get, sent_to_wechat

from .residents import port_of, read

pytestmark = [pytest.mark.cluster, pytest.mark.postgres]

SHARE_CARD = 'id="wechat-share-card"'
PAGES = [f"/cases/{number:03d}/" for number in range(41, 49)]  # read by no other test
TOKEN_DELAY = 1.0  # WeChat takes this long: every page asks while the first waits
BREAKER_FAILURES = 2
HELD_BACK = 3


@pytest.fixture(scope="module")
def fake_wechat():
    fake = FakeWeChat().start()
    yield fake
    fake.stop()


@pytest.fixture
def wechat_cluster(nodes_with, fake_wechat):
    """The nodes on the WeChat gate against the fake; no token, ticket or breaker state
    left in Redis by an earlier test; the fake's counts and faults reset."""
    cluster = nodes_with(
        {
            "CASEVOTE_FOLLOW_BACKEND": "ballots.follow.wechat.WeChatFollowBackend",
            "CASEVOTE_WECHAT_APP_ID": APP_ID,
            "CASEVOTE_WECHAT_APP_SECRET": APP_SECRET,
            "CASEVOTE_WECHAT_API_BASE": fake_wechat.base_url,
            "CASEVOTE_WECHAT_QR_URL": "http://weixin.qq.com/r/msweekly-test",
            "CASEVOTE_WECHAT_EVENT_TOKEN": "event-token",
            "CASEVOTE_PUBLIC_ORIGIN": f"https://{OAUTH_DOMAIN}",
            "CASEVOTE_WECHAT_BREAKER_FAILURES": str(BREAKER_FAILURES),
            "CASEVOTE_WECHAT_BREAKER_SECONDS": "60",
        }
    )
    client = redis.Redis.from_url(cluster.redis_url)
    for pattern in ("*casevote:wechat:*", "*casevote:lock:wechat-*"):
        for key in client.scan_iter(pattern):
            client.delete(key)
    fake_wechat.calls.clear()
    fake_wechat.answers.clear()
    fake_wechat.delays.clear()
    return cluster


def test_eight_concurrent_pages_on_both_nodes_fetch_the_token_once(wechat_cluster, fake_wechat):
    cluster = wechat_cluster
    nodes = [port_of(node.base_url) for node in cluster.nodes]
    fake_wechat.delays["cgi-bin/stable_token"] = TOKEN_DELAY
    together = threading.Barrier(len(PAGES), timeout=30)
    pages = {}

    def share(index: int, path: str) -> None:
        together.wait()
        pages[path] = (index % 2, read(nodes[index % 2], path, user_agent=WECHAT_UA))

    threads = [
        threading.Thread(target=share, args=(index, path)) for index, path in enumerate(PAGES)
    ]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    took = time.monotonic() - began

    print(
        f"\n[cluster] {len(PAGES)} case pages at once in WeChat, half on each node, "
        f"in {took:.1f} s: {[(p, n, page.status) for p, (n, page) in sorted(pages.items())]}; "
        f"WeChat was called {dict(fake_wechat.calls)}"
    )
    assert len(pages) == len(PAGES), "some pages got no answer"
    assert all(page.status == 200 for _, page in pages.values()), "a case page was not served"
    without_card = [path for path, (_, page) in pages.items() if SHARE_CARD not in page.text]
    assert not without_card, (
        f"pages without a share card (no jsapi_ticket in time): {without_card}; "
        f"WeChat was called {dict(fake_wechat.calls)}"
    )
    assert fake_wechat.calls["cgi-bin/stable_token"] == 1, (
        f"the access token was fetched {fake_wechat.calls['cgi-bin/stable_token']} times for "
        "8 concurrent pages on two nodes: the token's lock is not shared by the nodes"
    )
    assert fake_wechat.calls["cgi-bin/ticket/getticket"] == 1, (
        f"the jsapi_ticket was fetched {fake_wechat.calls['cgi-bin/ticket/getticket']} times: "
        "the ticket's lock is not shared by the nodes"
    )


def test_a_breaker_opened_by_node_0_holds_node_1_back(wechat_cluster, fake_wechat):
    cluster = wechat_cluster
    node0, node1 = (port_of(node.base_url) for node in cluster.nodes)
    exchange = "sns/oauth2/access_token"
    fake_wechat.answers[exchange] = b"<html>502 Bad Gateway</html>"  # an outage: not JSON

    on_node0 = []
    for attempt in range(BREAKER_FAILURES):
        cookie, callback = sent_to_wechat(node0, fake_wechat, f"o-breaker-0-{attempt:06d}")
        on_node0.append(get(node0, callback, cookie)[0])
    asked = fake_wechat.calls[exchange]
    on_node1 = []
    for attempt in range(HELD_BACK):
        cookie, callback = sent_to_wechat(node1, fake_wechat, f"o-breaker-1-{attempt:06d}")
        status, _, took = get(node1, callback, cookie)
        on_node1.append((status, round(took, 2)))

    print(
        f"\n[cluster] WeChat failing: node 0's callbacks answered {on_node0} "
        f"({asked} calls to WeChat); then node 1's answered (status, s) {on_node1}; "
        f"WeChat was called {dict(fake_wechat.calls)}"
    )
    assert on_node0 == [503] * BREAKER_FAILURES, f"node 0's failing callbacks: {on_node0}"
    assert asked == BREAKER_FAILURES, f"node 0 asked WeChat {asked} times"
    assert [status for status, _ in on_node1] == [503] * HELD_BACK, (
        f"node 1's callbacks while the breaker is open: {on_node1}"
    )
    assert fake_wechat.calls[exchange] == asked, (
        f"node 1 called WeChat {fake_wechat.calls[exchange] - asked} times while the breaker "
        "that node 0 opened was open: the breaker is not shared by the nodes"
    )
