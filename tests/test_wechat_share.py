"""Share cards in WeChat (issue #16): the JS-SDK's jsapi_ticket, the wx.config signature
for the page's exact URL, and the pages' CSP, against the fake WeChat API."""
# The fixtures of test_wechat_backend (the fake, the configured gate, a phone in
# WeChat) are imported, and pytest passes them to the tests by name.
# ruff: noqa: F811

import json
import re
import threading
import time
from datetime import timedelta

import pytest
from django.core.cache import caches

from ballots.follow import jssdk, wechat_api
from tests.fake_wechat import APP_ID
from tests.test_wechat_backend import (  # noqa: F401 (fixtures)
    ORIGIN,
    fake_wechat,
    wechat_backend,
    wx,
)

pytestmark = pytest.mark.django_db

GETTICKET = "cgi-bin/ticket/getticket"
SDK_HOST = "https://res.wx.qq.com"
CARD = re.compile(r'<script id="wechat-share-card" type="application/json">(.*?)</script>', re.S)


@pytest.fixture
def cases(make_case):
    return [make_case(31, title="阳光社区议事会"), make_case(32), make_case(33)]


def card_of(response) -> dict | None:
    assert response.status_code == 200, response
    found = CARD.search(response.content.decode())
    return json.loads(found.group(1)) if found else None


def policy(response) -> str:
    return response["Content-Security-Policy"]


def test_it_signs_wechats_documented_example():
    """附录1-JS-SDK使用权限签名算法: the example's values and its signature."""
    ticket = (
        "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg"
    )
    args = (ticket, "Wm3WZYTPz0wzccnW", 1414587457)
    expected = "0f9de62fce790f9a083d5c99e95740ceb90c27ed"

    assert jssdk.signature(*args, "http://mp.weixin.qq.com?params=value") == expected
    assert jssdk.signature(*args, "http://mp.weixin.qq.com?params=value#top") == expected
    assert jssdk.signature(*args, "http://mp.weixin.qq.com?params=other") != expected


def test_the_case_page_carries_a_config_signed_for_its_url(wx, fake_wechat, cases):
    response = wx.get("/cases/031/")
    card = card_of(response)

    ticket = fake_wechat.ticket[0]
    url = f"{ORIGIN}/cases/031/"
    assert card["url"] == url and card["appId"] == APP_ID
    assert card["signature"] == jssdk.signature(ticket, card["nonceStr"], card["timestamp"], url)
    assert card["jsApiList"] == ["updateAppMessageShareData", "updateTimelineShareData"]
    assert card["title"] == "031 阳光社区议事会"
    assert card["desc"] and "\n" not in card["desc"] and len(card["desc"]) <= 60
    assert card["link"] == url
    assert card["imgUrl"] == f"{ORIGIN}/static/wechat-share-icon.png"
    assert card["sdk"][0].startswith(f"{SDK_HOST}/open/js/jweixin-1.6.0.js")
    # Our script is a static file; no inline script anywhere on the page.
    html = response.content.decode()
    assert '<script src="/static/js/wechat-share.js" defer></script>' in html
    scripts = re.findall(r"<script([^>]*)>", html)
    assert all("src=" in attrs or 'type="application/json"' in attrs for attrs in scripts)


def test_the_signature_covers_the_query_string_and_ignores_the_host(
    wx, fake_wechat, cases, settings
):
    """WeChat adds `?from=singlemessage&isappinstalled=0` to shared links: the URL the
    browser shows. The origin is the public one whatever Host the request came with."""
    settings.ALLOWED_HOSTS = ["vote.example.cn", "10.0.0.7"]  # e.g. the proxy's upstream
    path = "/cases/031/?from=singlemessage&isappinstalled=0"
    card = card_of(wx.get(path, HTTP_HOST="10.0.0.7"))

    url = ORIGIN + path
    assert card["url"] == url
    assert card["signature"] == jssdk.signature(
        fake_wechat.ticket[0], card["nonceStr"], card["timestamp"], url
    )
    assert card["link"] == f"{ORIGIN}/cases/031/"


def test_the_campaign_page_carries_a_card_too(wx, fake_wechat, cases, settings):
    card = card_of(wx.get("/"))

    assert card["url"] == f"{ORIGIN}/" and card["title"] == settings.CASEVOTE_CAMPAIGN_NAME


def test_the_ticket_is_fetched_once_for_every_page_and_worker(wx, fake_wechat, cases):
    first = card_of(wx.get("/cases/031/"))
    caches["default"].clear()  # another worker: its own page cache, the same shared cache
    pages = [card_of(wx.get(path)) for path in ("/cases/031/", "/cases/032/", "/")]

    assert fake_wechat.calls[GETTICKET] == 1
    assert fake_wechat.calls["cgi-bin/stable_token"] == 1
    ticket = fake_wechat.ticket[0]
    for card in [first, *pages]:
        assert card["signature"] == jssdk.signature(
            ticket, card["nonceStr"], card["timestamp"], card["url"]
        )


def test_a_cached_page_keeps_a_config_that_is_still_valid(wx, fake_wechat, cases, clock, settings):
    """The page cache serves the config it rendered for up to its seconds, so a ticket
    is put in a page only while it will outlive the page in the cache."""
    settings.CASEVOTE_PAGE_CACHE_SECONDS = 900
    card_of(wx.get("/cases/032/"))

    clock.shift(timedelta(seconds=7200 - 900 - jssdk.TICKET_EXPIRY_MARGIN_SECONDS - 1))
    first = card_of(wx.get("/cases/031/"))
    clock.shift(timedelta(seconds=899))
    again = card_of(wx.get("/cases/031/"))
    assert again == first  # served from the page cache …
    assert fake_wechat.calls[GETTICKET] == 1
    ticket, expires_at = fake_wechat.ticket
    assert expires_at > time.time()  # … while WeChat still accepts its ticket
    assert again["signature"] == jssdk.signature(
        ticket, again["nonceStr"], again["timestamp"], again["url"]
    )

    card_of(wx.get("/cases/033/"))  # a page that would be served until the ticket expires
    assert fake_wechat.calls[GETTICKET] == 2


def test_the_ticket_is_refreshed_before_it_expires(wx, fake_wechat, cases, clock, settings):
    card_of(wx.get("/cases/031/"))
    kept = 7200 - jssdk.TICKET_EXPIRY_MARGIN_SECONDS - settings.CASEVOTE_PAGE_CACHE_SECONDS

    clock.shift(timedelta(seconds=kept - 1))
    card_of(wx.get("/cases/032/"))
    assert fake_wechat.calls[GETTICKET] == 1
    clock.shift(timedelta(seconds=2))
    card_of(wx.get("/cases/033/"))
    assert fake_wechat.calls[GETTICKET] == 2

    clock.shift(timedelta(hours=2))  # WeChat's ticket has expired: a new one
    card = card_of(wx.get("/cases/031/"))
    assert fake_wechat.ticket[0] != "JSAPI_TICKET_2"
    assert card["signature"] == jssdk.signature(
        fake_wechat.ticket[0], card["nonceStr"], card["timestamp"], card["url"]
    )


def test_an_access_token_wechat_refuses_is_replaced_once(wx, fake_wechat, cases):
    card_of(wx.get("/cases/031/"))
    caches["shared"].delete(jssdk._ticket_key())
    fake_wechat.expire_tokens()  # the cached token now answers 42001
    fake_wechat.expire_ticket()

    card = card_of(wx.get("/cases/032/"))

    assert fake_wechat.calls["cgi-bin/stable_token"] == 2
    assert fake_wechat.calls[GETTICKET] == 3
    assert card["signature"] == jssdk.signature(
        fake_wechat.ticket[0], card["nonceStr"], card["timestamp"], card["url"]
    )


def test_several_workers_at_once_fetch_the_ticket_once(fake_wechat, wechat_backend):
    wechat_backend.CASEVOTE_WECHAT_TIMEOUT = 3.0
    fake_wechat.delays[GETTICKET] = 0.3
    tickets: list[str] = []

    def worker():
        with wechat_api.deadline():
            tickets.append(jssdk.jsapi_ticket())

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert len(tickets) == 6 and set(tickets) == {fake_wechat.ticket[0]}
    assert fake_wechat.calls[GETTICKET] == 1


@pytest.mark.parametrize(
    "outage",
    [
        {"errcode": -1, "errmsg": "system error"},
        b"<html>502 Bad Gateway</html>",
        {"errcode": 40164, "errmsg": "invalid ip, not in whitelist"},
    ],
)
def test_without_wechat_the_page_is_the_same_without_a_card(wx, fake_wechat, cases, outage):
    fake_wechat.answers[GETTICKET] = outage

    response = wx.get("/cases/031/")

    assert card_of(response) is None
    assert "阳光社区议事会" in response.content.decode()
    assert "wechat-share.js" not in response.content.decode()


def test_a_slow_wechat_costs_the_page_at_most_the_deadline(wx, fake_wechat, cases, settings):
    settings.CASEVOTE_WECHAT_DEADLINE = 0.3
    fake_wechat.delays[GETTICKET] = 2.0

    assert card_of(wx.get("/cases/031/")) is None


def test_only_the_share_card_pages_allow_wechats_sdk_host(wx, fake_wechat, cases):
    for path in ("/cases/031/", "/cases/031/", "/"):  # the second from the page cache
        csp = policy(wx.get(path))
        assert SDK_HOST in csp and "https://res2.wx.qq.com" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "script-src 'self' https://res.wx.qq.com https://res2.wx.qq.com" in csp
    for path in ("/vote/", "/results/", "/batches/002/", "/announcements/"):
        response = wx.get(path, HTTP_USER_AGENT="Mozilla/5.0")
        assert "res.wx.qq.com" not in policy(response), path


def test_without_the_wechat_backend_nothing_is_added(client, fake_wechat, cases, settings):
    settings.CASEVOTE_FOLLOW_BACKEND = "ballots.follow.local.LocalFollowBackend"

    for path in ("/cases/031/", "/"):
        response = client.get(path)
        assert card_of(response) is None
        assert "res.wx.qq.com" not in policy(response)
    assert fake_wechat.calls[GETTICKET] == 0
