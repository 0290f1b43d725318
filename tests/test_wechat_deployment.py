"""The WeChat gate in a real deployment (issue #17), against the strict fake WeChat.

A state bound to the browser, a token that coexists with the magazine's other systems,
each WeChat refusal told apart, a slow WeChat that cannot stall the site, the account's
domain and verification file, and the page the visitor came from.
"""
# The fixtures of test_wechat_backend (the fake, the configured gate, a phone in
# WeChat) are imported, and pytest passes them to the tests by name.
# ruff: noqa: F811

import json
import logging
import os
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.cache import caches
from django.test import Client

from ballots.follow import breaker, wechat, wechat_api
from ballots.identity import FOLLOWER_COOKIE
from ballots.models import Ballot, Follower
from casevote import sharedcache
from tests.fake_wechat import APP_ID, APP_SECRET, CODE_LIFETIME
from tests.test_shared_cache import redis_away  # noqa: F401 (a fixture)
from tests.test_wechat_backend import (  # noqa: F401 (fixtures)
    ORIGIN,
    SUBSCRIBE_TIME,
    UNAVAILABLE,
    WECHAT_UA,
    cast,
    fake_wechat,
    follow_in_wechat,
    start_authorisation,
    through_wechat,
    wechat_backend,
    wx,
)

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


def phone() -> Client:
    return Client(HTTP_USER_AGENT=WECHAT_UA)


def callback_for(client, fake, openid: str, page: str = "/vote/") -> str:
    """Start the flow in `client`, let WeChat's authorise page answer: the callback URL
    (path and query) WeChat sends the browser back to, not opened yet."""
    response = client.get(page)
    url = urlsplit(fake.authorise(response["Location"], openid))
    return f"{url.path}?{url.query}"


# --- 1. The state is bound to the browser that started the flow ---------------------------


def test_an_attackers_unused_callback_does_not_sign_someone_else_in(fake_wechat, open_batch, clock):
    fake_wechat.follow("o-mallory-0666", SUBSCRIBE_TIME)
    fake_wechat.follow("o-victim-00001", SUBSCRIBE_TIME)
    attacker, victim = phone(), phone()
    trap = callback_for(attacker, fake_wechat, "o-mallory-0666")
    start_authorisation(victim)  # the victim has a flow of their own, even

    response = victim.get(trap)

    html = response.content.decode()
    assert response.status_code == 403
    assert "不是从您的浏览器发起的" in html
    assert "重新打开投票页面" in html and 'href="/vote/"' in html
    assert FOLLOWER_COOKIE not in victim.cookies
    assert Follower.objects.count() == 0
    assert sum(fake_wechat.calls.values()) == 0  # refused before asking WeChat
    assert attacker.get(trap).status_code == 302  # unspent: its own browser still can


def test_a_callback_in_a_browser_that_never_started_a_flow_is_refused(
    fake_wechat, open_batch, clock
):
    fake_wechat.follow("o-mallory-0666", SUBSCRIBE_TIME)
    trap = callback_for(phone(), fake_wechat, "o-mallory-0666")
    victim = phone()

    response = victim.get(trap)

    assert response.status_code == 403
    assert FOLLOWER_COOKIE not in victim.cookies


def test_the_flow_cookie_is_short_lived_http_only_and_only_for_the_callback(
    wx, fake_wechat, open_batch, clock, settings
):
    start_authorisation(wx)

    cookie = wx.cookies[wechat.FLOW_COOKIE]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"  # sent on the top-level redirect back from WeChat
    assert cookie["path"] == "/wechat/"
    assert cookie["max-age"] == settings.CASEVOTE_FOLLOW_LINK_MAX_AGE


def test_a_flow_cookie_from_another_site_key_is_refused(fake_wechat, open_batch, clock):
    fake_wechat.follow("o-alice-000001", SUBSCRIBE_TIME)
    client = phone()
    trap = callback_for(client, fake_wechat, "o-alice-000001")
    client.cookies[wechat.FLOW_COOKIE] = "tampered:" + client.cookies[wechat.FLOW_COOKIE].value

    assert client.get(trap).status_code == 403


def test_two_tabs_started_in_one_browser_both_come_back(fake_wechat, open_batch, clock):
    fake_wechat.follow("o-alice-000001", SUBSCRIBE_TIME)
    client = phone()
    first = callback_for(client, fake_wechat, "o-alice-000001", page="/batches/2/vote/")
    second = callback_for(client, fake_wechat, "o-alice-000001", page="/vote/")

    assert client.get(second)["Location"] == "/vote/"
    client.cookies.pop(FOLLOWER_COOKIE)
    assert client.get(first)["Location"] == "/batches/2/vote/"


def test_a_reloaded_successful_callback_lands_on_the_ballot(wx, fake_wechat, open_batch, clock):
    fake_wechat.follow("o-alice-000001", SUBSCRIBE_TIME)
    callback = callback_for(wx, fake_wechat, "o-alice-000001")
    assert wx.get(callback).status_code == 302
    asked = sum(fake_wechat.calls.values())

    reloaded = wx.get(callback)

    assert reloaded.status_code == 302
    assert reloaded["Location"] == "/vote/"
    assert sum(fake_wechat.calls.values()) == asked  # the spent code is not sent again
    assert 'name="cases"' in wx.get("/vote/").content.decode()


# --- 2. The access token coexists with the account's other systems ------------------------


def another_system_fetches_a_token(fake) -> None:
    """The magazine's editor tools or menu server on the same AppID: cgi-bin/token."""
    query = f"grant_type=client_credential&appid={APP_ID}&secret={APP_SECRET}"
    with urllib.request.urlopen(f"{fake.base_url}/cgi-bin/token?{query}", timeout=2) as answer:  # noqa: S310
        assert "access_token" in json.loads(answer.read())


def test_other_systems_fetching_tokens_do_not_invalidate_the_sites(
    wx, fake_wechat, open_batch, clock, wechat_backend
):
    wechat_backend.CASEVOTE_WECHAT_SUBSCRIPTION_CACHE_SECONDS = 0
    follow_in_wechat(wx, fake_wechat, "o-alice-000001")
    for _ in range(3):
        another_system_fetches_a_token(fake_wechat)

    assert cast(wx, clock).status_code == 302
    assert fake_wechat.calls["cgi-bin/stable_token"] == 1  # the site's token is still good
    assert fake_wechat.calls["cgi-bin/user/info"] == 2


WORKER_SCRIPT = """
import os, sys, time
import django
django.setup()
from ballots.follow import wechat_api
start = float(sys.argv[1])
time.sleep(max(0, start - time.time()))
print(wechat_api.access_token())
"""


def test_eight_workers_with_an_empty_cache_make_one_token_fetch(fake_wechat, tmp_path):
    """Eight processes (gunicorn workers) need the token at the same moment: one asks
    WeChat, the others wait for it on the lock and use the same token."""
    fake_wechat.delays["cgi-bin/stable_token"] = 0.3  # long enough for all to overlap
    fake_wechat.delays["cgi-bin/token"] = 0.3
    env = {key: value for key, value in os.environ.items() if not key.startswith("CASEVOTE_")} | {
        "DJANGO_SETTINGS_MODULE": "casevote.settings",
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        "CASEVOTE_SHARED_CACHE_DIR": str(tmp_path / "shared-cache"),
        "CASEVOTE_FOLLOW_BACKEND": "ballots.follow.wechat.WeChatFollowBackend",
        "CASEVOTE_WECHAT_APP_ID": APP_ID,
        "CASEVOTE_WECHAT_APP_SECRET": APP_SECRET,
        "CASEVOTE_WECHAT_API_BASE": fake_wechat.base_url,
        "CASEVOTE_WECHAT_TIMEOUT": "10",
    }
    start = time.time() + 4  # every process is set up by then, on two busy cores
    workers = [
        subprocess.Popen(  # noqa: S603 (this interpreter, our own script)
            [sys.executable, "-c", WORKER_SCRIPT, str(start)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    outputs = [worker.communicate(timeout=60) for worker in workers]

    tokens = {out.strip() for out, _ in outputs}
    assert all(worker.returncode == 0 for worker in workers), [err for _, err in outputs]
    assert len(tokens) == 1
    assert fake_wechat.calls["cgi-bin/stable_token"] + fake_wechat.calls["cgi-bin/token"] == 1


def test_with_a_cache_server_the_lock_is_an_atomic_add(fake_wechat, wechat_backend):
    """A shared cache that is not files (Redis, Memcached, the database): the lock is a key."""
    wechat_backend.CACHES = {
        **wechat_backend.CACHES,
        "shared": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "lock-test",
        },
    }
    fake_wechat.delays["cgi-bin/stable_token"] = 0.3
    tokens: list[str] = []

    def worker():
        tokens.append(wechat_api.access_token())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert len(tokens) == 8 and len(set(tokens)) == 1
    assert fake_wechat.calls["cgi-bin/stable_token"] == 1


def test_a_wrong_secret_at_the_token_endpoint_is_a_configuration_error_logged_once(
    wx, fake_wechat, open_batch, clock, wechat_backend, caplog
):
    wechat_backend.CASEVOTE_WECHAT_SUBSCRIPTION_CACHE_SECONDS = 0
    follow_in_wechat(wx, fake_wechat, "o-alice-000001")
    caches["shared"].delete(wechat_api._token_key())
    fake_wechat.secret = "the-secret-was-reset-in-the-console"  # noqa: S105

    with caplog.at_level(logging.INFO, logger="ballots.follow.wechat"):
        first, second = cast(wx, clock), cast(wx, clock)

    assert first.status_code == second.status_code == 503
    assert Ballot.objects.count() == 0
    records = [r for r in caplog.records if r.name == "ballots.follow.wechat"]
    assert [r.levelname for r in records] == ["ERROR", "INFO"]  # loudly, once
    assert "errcode=40001" in records[0].getMessage()
    assert "CASEVOTE_WECHAT_APP_SECRET" in records[0].getMessage()
    assert fake_wechat.calls["cgi-bin/stable_token"] == 3  # fetched, then refused twice
    assert APP_SECRET not in caplog.text


# --- 3. Each refusal is told apart ----------------------------------------------------------


def test_an_expired_code_says_start_again_not_try_later(wx, fake_wechat, open_batch, clock, caplog):
    fake_wechat.follow("o-alice-000001", SUBSCRIBE_TIME)
    callback = callback_for(wx, fake_wechat, "o-alice-000001", page="/batches/2/vote/")
    clock.shift(timedelta(seconds=CODE_LIFETIME + 1))  # the state (10 min) is still good

    response = wx.get(callback)

    html = response.content.decode()
    assert response.status_code == 400
    assert "重新开始" in html and UNAVAILABLE not in html
    assert 'href="/batches/2/vote/"' in html  # back where they were
    assert "errcode=40029" in caplog.text
    assert not breaker.is_open() and not caches["shared"].get(breaker.FAILURES_KEY)


def test_a_used_code_says_start_again(wx, fake_wechat, open_batch, clock):
    fake_wechat.follow("o-alice-000001", SUBSCRIBE_TIME)
    callback = callback_for(wx, fake_wechat, "o-alice-000001")
    fake_wechat.used_codes.add(parse_qs(urlsplit(callback).query)["code"][0])

    response = wx.get(callback)

    assert response.status_code == 400
    assert "重新开始" in response.content.decode()


def test_an_openid_of_another_account_says_open_it_in_wechat(wx, fake_wechat, open_batch, clock):
    callback = callback_for(wx, fake_wechat, "o-alice-000001")
    fake_wechat.users.clear()  # WeChat does not know the openid as this account's

    response = wx.get(callback)

    html = response.content.decode()
    assert fake_wechat.calls["cgi-bin/user/info"] == 1
    assert response.status_code == 403
    assert "请在微信中打开“民生周刊”公众号" in html


@pytest.mark.parametrize(
    ("endpoint", "errcode", "hint"),
    [
        ("sns/oauth2/access_token", 48001, "认证服务号"),
        ("cgi-bin/stable_token", 40164, "IP whitelist"),
        ("sns/oauth2/access_token", 40013, "CASEVOTE_WECHAT_APP_ID"),
    ],
    ids=["no web authorisation permission", "server not whitelisted", "wrong AppID"],
)
def test_a_configuration_error_says_the_site_is_not_set_up_and_is_logged_once(
    fake_wechat, open_batch, clock, caplog, endpoint, errcode, hint
):
    fake_wechat.follow("o-alice-000001", SUBSCRIBE_TIME)
    fake_wechat.answers[endpoint] = {"errcode": errcode, "errmsg": "refused"}

    with caplog.at_level(logging.INFO, logger="ballots.follow.wechat"):
        responses = [through_wechat(phone(), fake_wechat, "o-alice-000001") for _ in range(3)]

    assert [r.status_code for r in responses] == [500, 500, 500]
    assert "微信登录设置有误" in responses[0].content.decode()
    assert UNAVAILABLE not in responses[0].content.decode()
    records = [r for r in caplog.records if r.name == "ballots.follow.wechat"]
    assert [r.levelname for r in records] == ["ERROR", "INFO", "INFO"]
    assert f"errcode={errcode}" in records[0].getMessage() and hint in records[0].getMessage()
    assert not breaker.is_open()


# --- 4. A slow WeChat cannot stall the site ------------------------------------------------


def test_a_callback_ends_within_the_deadline_however_many_calls_it_needs(
    wx, fake_wechat, open_batch, clock, wechat_backend
):
    """Each call is under its own timeout; together they would take 1.8 s."""
    wechat_backend.CASEVOTE_WECHAT_TIMEOUT = 1.0
    wechat_backend.CASEVOTE_WECHAT_DEADLINE = 1.0
    fake_wechat.follow("o-alice-000001", SUBSCRIBE_TIME)
    for endpoint in ("sns/oauth2/access_token", "cgi-bin/stable_token", "cgi-bin/user/info"):
        fake_wechat.delays[endpoint] = 0.6

    began = time.monotonic()
    response = through_wechat(wx, fake_wechat, "o-alice-000001")
    waited = time.monotonic() - began

    assert response.status_code == 503
    assert UNAVAILABLE in response.content.decode()
    assert waited < 1.0 + 0.5  # the deadline, with a margin for a busy machine
    assert Follower.objects.count() == 0


def test_a_ballot_check_ends_within_the_deadline(
    wx, fake_wechat, open_batch, clock, wechat_backend
):
    wechat_backend.CASEVOTE_WECHAT_SUBSCRIPTION_CACHE_SECONDS = 0
    follow_in_wechat(wx, fake_wechat, "o-alice-000001")
    wechat_backend.CASEVOTE_WECHAT_TIMEOUT = 1.0
    wechat_backend.CASEVOTE_WECHAT_DEADLINE = 1.0
    caches["shared"].delete(wechat_api._token_key())
    fake_wechat.delays["cgi-bin/stable_token"] = 0.6
    fake_wechat.delays["cgi-bin/user/info"] = 0.6

    began = time.monotonic()
    response = cast(wx, clock)
    waited = time.monotonic() - began

    assert response.status_code == 503
    assert waited < 1.0 + 0.5
    assert Ballot.objects.count() == 0


def test_after_repeated_outages_wechat_is_not_asked_for_a_while(
    fake_wechat, open_batch, clock, wechat_backend
):
    wechat_backend.CASEVOTE_WECHAT_BREAKER_FAILURES = 2
    wechat_backend.CASEVOTE_WECHAT_BREAKER_SECONDS = 30
    fake_wechat.follow("o-alice-000001", SUBSCRIBE_TIME)
    fake_wechat.delays["sns/oauth2/access_token"] = 3 * wechat_backend.CASEVOTE_WECHAT_TIMEOUT
    for _ in range(2):
        assert through_wechat(phone(), fake_wechat, "o-alice-000001").status_code == 503
    asked = sum(fake_wechat.calls.values())

    began = time.monotonic()
    refused = through_wechat(phone(), fake_wechat, "o-alice-000001")
    waited = time.monotonic() - began

    assert refused.status_code == 503
    assert UNAVAILABLE in refused.content.decode()
    assert sum(fake_wechat.calls.values()) == asked  # not asked at all
    assert waited < wechat_backend.CASEVOTE_WECHAT_TIMEOUT
    fake_wechat.delays.clear()
    clock.shift(timedelta(seconds=31))
    assert through_wechat(phone(), fake_wechat, "o-alice-000001").status_code == 302


def test_wechat_saying_no_never_opens_the_breaker(fake_wechat, open_batch, clock, wechat_backend):
    wechat_backend.CASEVOTE_WECHAT_BREAKER_FAILURES = 2
    fake_wechat.answers["sns/oauth2/access_token"] = {"errcode": 40163, "errmsg": "code used"}

    for _ in range(4):
        through_wechat(phone(), fake_wechat, "o-alice-000001")

    assert not breaker.is_open()
    assert fake_wechat.calls["sns/oauth2/access_token"] == 4


# --- 6. The account's domain and verification file -----------------------------------------


def test_the_callback_is_on_the_public_origin_whatever_host_the_request_names(
    wx, fake_wechat, open_batch, clock, settings
):
    settings.ALLOWED_HOSTS = ["vote.example.cn", "10.0.0.7"]  # e.g. the proxy's upstream

    response = wx.get("/vote/", HTTP_HOST="10.0.0.7")

    redirect_uri = parse_qs(urlsplit(response["Location"]).query)["redirect_uri"][0]
    assert redirect_uri == f"{ORIGIN}/wechat/callback/"


def test_the_verification_file_is_served_at_the_root(client, wechat_backend, tmp_path):
    verify = tmp_path / "MP_verify_a1B2c3D4e5F6g7H8.txt"
    verify.write_text("a1B2c3D4e5F6g7H8")
    wechat_backend.CASEVOTE_WECHAT_VERIFY_FILE = str(verify)

    response = client.get("/MP_verify_a1B2c3D4e5F6g7H8.txt")

    assert response.status_code == 200
    assert response.content == b"a1B2c3D4e5F6g7H8"
    assert response["Content-Type"].startswith("text/plain")
    assert client.get("/MP_verify_someoneElse0000.txt").status_code == 404
    wechat_backend.CASEVOTE_FOLLOW_BACKEND = "ballots.follow.local.LocalFollowBackend"
    assert client.get("/MP_verify_a1B2c3D4e5F6g7H8.txt").status_code == 404


# --- The page the visitor came from ---------------------------------------------------------


def test_after_following_in_wechat_the_visitor_returns_to_the_batch_they_came_from(
    wx, fake_wechat, open_batch, clock
):
    fake_wechat.follow("o-alice-000001", SUBSCRIBE_TIME)

    response = through_wechat(wx, fake_wechat, "o-alice-000001", page="/batches/2/vote/")

    assert response.status_code == 302
    assert response["Location"] == "/batches/2/vote/"


def test_the_not_followed_page_leads_back_to_where_the_visitor_came_from(
    wx, fake_wechat, open_batch, clock
):
    fake_wechat.unfollow("o-carol-00003")

    response = through_wechat(wx, fake_wechat, "o-carol-00003", page="/batches/2/vote/")

    assert 'href="/batches/2/vote/">我已关注，继续投票' in response.content.decode()


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("CASEVOTE_WECHAT_DEADLINE", 0),
        ("CASEVOTE_WECHAT_DEADLINE", 30),  # gunicorn kills the worker first
        ("CASEVOTE_WECHAT_BREAKER_FAILURES", 0),
        ("CASEVOTE_WECHAT_BREAKER_SECONDS", 0),
    ],
)
def test_a_deadline_or_breaker_that_cannot_work_fails_the_system_checks(
    wechat_backend, setting, value
):
    from ballots.checks import wechat_settings

    assert wechat_settings(None) == []
    setattr(wechat_backend, setting, value)

    assert [problem.id for problem in wechat_settings(None)] in (
        ["ballots.E023"],
        ["ballots.E024"],
    )


def test_the_public_origin_is_a_domain_on_the_https_port(wechat_backend, tmp_path):
    from ballots.checks import wechat_deployment

    verify = tmp_path / "MP_verify_a1B2c3D4e5F6g7H8.txt"
    verify.write_text("a1B2c3D4e5F6g7H8")
    wechat_backend.CASEVOTE_WECHAT_VERIFY_FILE = str(verify)
    wechat_backend.ALLOWED_HOSTS = [".example.cn"]
    wechat_backend.CASEVOTE_PUBLIC_ORIGIN = "https://vote.example.cn"
    assert wechat_deployment(None) == []

    wechat_backend.CASEVOTE_PUBLIC_ORIGIN = "https://vote.example.cn:8443"
    assert [problem.id for problem in wechat_deployment(None)] == ["ballots.E020"]


def test_outages_in_several_workers_at_once_are_all_counted(wechat_backend):
    """The file cache's incr reads, then writes; sharedcache.count counts under its lock."""
    wechat_backend.CASEVOTE_WECHAT_BREAKER_FAILURES = 1000
    start = threading.Barrier(8)

    def worker():
        start.wait()
        for _ in range(5):
            breaker.record_outage()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sharedcache.count(breaker.FAILURES_KEY, 30) == 41  # the 40, and this one


def test_without_redis_the_wechat_gate_answers_503_and_never_asks_for_a_token(
    redis_away, wx, fake_wechat, open_batch, clock
):
    """The token and the lock that lets one worker fetch it live in the shared cache:
    without it, every worker asking WeChat at once would spend the daily quota."""
    response = through_wechat(wx, fake_wechat, "o-alice-000001")

    assert response.status_code == 503
    assert UNAVAILABLE in response.content.decode()
    assert fake_wechat.calls["cgi-bin/stable_token"] == 0
