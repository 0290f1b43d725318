"""The WeChat follow gate, end to end through the views, against a fake WeChat API.

The fake (tests/fake_wechat.py) runs on 127.0.0.1 for each test; the site talks to
it over real HTTP with the production client, with a 0.5 s timeout.
"""

import io
import logging
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import zxingcpp
from django.core.cache import caches
from django.test import Client
from PIL import Image

from ballots.follow import wechat_api
from ballots.identity import FOLLOWER_COOKIE
from ballots.models import Ballot, Choice, Follower, UsedFollowToken
from tests.conftest import VOTING_NOW, form_token
from tests.fake_wechat import APP_ID, APP_SECRET, AUTHORIZE_URL, OAUTH_DOMAIN, FakeWeChat

pytestmark = pytest.mark.django_db

WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x1800323c) NetType/WIFI"
)
SAFARI_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
ORIGIN = f"https://{OAUTH_DOMAIN}"
ACCOUNT_FOLLOW_LINK = "http://weixin.qq.com/r/msweekly-test"
# Followed two days before the (frozen) voting moment, from the poster's QR code.
SUBSCRIBE_TIME = int((VOTING_NOW - timedelta(days=2)).timestamp())
TIMEOUT = 0.5
UNAVAILABLE = "微信服务暂时不可用，请稍后再试"


@pytest.fixture
def fake_wechat():
    fake = FakeWeChat().start()
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def wechat_backend(settings, fake_wechat):
    """The WeChat gate is the follow backend, pointed at the fake."""
    settings.CASEVOTE_FOLLOW_BACKEND = "ballots.follow.wechat.WeChatFollowBackend"
    settings.CASEVOTE_WECHAT_APP_ID = APP_ID
    settings.CASEVOTE_WECHAT_APP_SECRET = APP_SECRET
    settings.CASEVOTE_WECHAT_API_BASE = fake_wechat.base_url
    settings.CASEVOTE_WECHAT_AUTHORIZE_URL = AUTHORIZE_URL
    settings.CASEVOTE_WECHAT_TIMEOUT = TIMEOUT
    settings.CASEVOTE_WECHAT_QR_URL = ACCOUNT_FOLLOW_LINK
    settings.CASEVOTE_WECHAT_QR_IMAGE = ""
    settings.CASEVOTE_WECHAT_EVENT_TOKEN = "event-token"
    settings.CASEVOTE_PUBLIC_ORIGIN = ORIGIN
    return settings


@pytest.fixture
def wx() -> Client:
    """A phone browsing inside WeChat."""
    return Client(HTTP_USER_AGENT=WECHAT_UA)


def start_authorisation(client, page: str = "/vote/") -> dict[str, str]:
    """Open `page` without an identity: the authorise URL's parameters."""
    response = client.get(page)
    assert response.status_code == 302, response
    url = urlsplit(response["Location"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == AUTHORIZE_URL
    assert url.fragment == "wechat_redirect"
    return {key: values[0] for key, values in parse_qs(url.query).items()}


def through_wechat(client, fake, openid: str, page: str = "/vote/"):
    """Open `page`, let the (strict) fake's authorise page check the URL the site sent
    the visitor to and send them back, as WeChat does; the callback's response."""
    response = client.get(page)
    assert response.status_code == 302, response
    callback = urlsplit(fake.authorise(response["Location"], openid))
    assert f"{callback.scheme}://{callback.netloc}" == ORIGIN
    return client.get(callback.path, parse_qs(callback.query), secure=True)


def come_back(client, fake, openid: str, state: str | None = None, code: str | None = None):
    """What WeChat's authorise page does: send the visitor to the callback with a code."""
    if state is None and code is None:
        return through_wechat(client, fake, openid)
    state = state if state is not None else start_authorisation(client)["state"]
    code = code if code is not None else fake.code_for(openid)
    return client.get("/wechat/callback/", {"code": code, "state": state})


def follow_in_wechat(client, fake, openid: str = "o-alice-000001") -> Follower:
    fake.follow(openid, SUBSCRIBE_TIME, qr_scene_str="poster-2")
    response = come_back(client, fake, openid)
    assert response.status_code == 302, response
    assert response["Location"] == "/vote/"
    return Follower.objects.get(key=openid)


def cast(client, clock, numbers=("031", "033")):
    token = form_token(client.get("/vote/"))
    clock.shift(timedelta(seconds=5))
    return client.post("/vote/", {"cases": list(numbers), "token": token, "website": ""})


def error_text(response) -> str:
    html = response.content.decode()
    match = re.search(r'<div class="alert alert-danger"[^>]*>(.*?)</div>', html, re.S)
    assert match, "no error message shown"
    return re.sub(r"<[^>]+>", "", match.group(1))


def assert_nothing_recorded() -> None:
    assert Ballot.objects.count() == 0
    assert Choice.objects.count() == 0


def decoded_qr(response) -> list[str]:
    return [code.text for code in zxingcpp.read_barcodes(Image.open(io.BytesIO(response.content)))]


# --- The way in ------------------------------------------------------------------------


def test_it_sends_a_wechat_visitor_to_the_silent_authorise_page(wx, open_batch, clock):
    params = start_authorisation(wx)

    assert params["appid"] == APP_ID
    assert params["redirect_uri"] == f"{ORIGIN}/wechat/callback/"
    assert params["response_type"] == "code"
    assert params["scope"] == "snsapi_base"
    assert re.fullmatch(r"[a-zA-Z0-9]{1,128}", params["state"])
    assert start_authorisation(wx)["state"] != params["state"]


def test_a_followed_openid_becomes_a_follower_and_votes(wx, fake_wechat, open_batch, clock):
    follower = follow_in_wechat(wx, fake_wechat, "o-alice-000001")

    response = cast(wx, clock, ["031", "033", "040"])

    assert response.status_code == 302
    ballot = Ballot.objects.get()
    assert ballot.follower == follower
    assert sorted(c.case.number for c in Choice.objects.all()) == [31, 33, 40]
    assert follower.backend == "wechat"
    assert follower.followed_at.timestamp() == SUBSCRIBE_TIME
    assert follower.subscribed_at == follower.followed_at
    assert follower.scene == "poster-2"
    assert follower.unfollowed_at is None
    assert wx.cookies[FOLLOWER_COOKIE]["httponly"]
    assert set(UsedFollowToken.objects.values_list("follower", flat=True)) == {follower.pk}


def test_coming_back_again_finds_the_same_follower(wx, fake_wechat, open_batch, clock):
    first = follow_in_wechat(wx, fake_wechat, "o-alice-000001")
    other_phone = Client(HTTP_USER_AGENT=WECHAT_UA)

    second = follow_in_wechat(other_phone, fake_wechat, "o-alice-000001")

    assert second == first
    assert Follower.objects.count() == 1


def test_new_followers_from_one_address_are_limited_and_returning_ones_are_not(
    fake_wechat, open_batch, clock, settings
):
    settings.CASEVOTE_FOLLOWS_PER_ADDRESS_HOURLY = 2
    phones = [Client(HTTP_USER_AGENT=WECHAT_UA, REMOTE_ADDR="198.51.100.20") for _ in range(4)]
    for phone, openid in zip(phones[:2], ("o-one-000001", "o-two-000002"), strict=True):
        follow_in_wechat(phone, fake_wechat, openid)
    fake_wechat.follow("o-three-00003", SUBSCRIBE_TIME)

    refused = come_back(phones[2], fake_wechat, "o-three-00003")
    returning = follow_in_wechat(phones[3], fake_wechat, "o-one-000001")

    assert refused.status_code == 429
    assert "这个网络新关注的人太多了" in refused.content.decode()
    assert not Follower.objects.filter(key="o-three-00003").exists()
    assert returning.origin_network == "198.51.100.20"
    assert Follower.objects.count() == 2


def test_the_scene_number_is_kept_when_there_is_no_scene_string(wx, fake_wechat, open_batch, clock):
    fake_wechat.follow("o-bob-000002", SUBSCRIBE_TIME, qr_scene=1207)

    come_back(wx, fake_wechat, "o-bob-000002")

    assert Follower.objects.get().scene == "1207"


def test_a_visitor_who_does_not_follow_sees_the_gate_with_the_account_qr_code(
    wx, fake_wechat, open_batch, clock
):
    fake_wechat.unfollow("o-carol-00003")

    response = come_back(wx, fake_wechat, "o-carol-00003")

    html = response.content.decode()
    assert response.status_code == 200
    assert "关注后请返回本页继续投票" in html
    assert '<img class="qr" src="/wechat/qr.png"' in html
    assert 'href="/vote/"' in html
    assert 'name="cases"' not in html
    assert Follower.objects.count() == 0
    assert FOLLOWER_COOKIE not in wx.cookies
    assert decoded_qr(wx.get("/wechat/qr.png")) == [ACCOUNT_FOLLOW_LINK]


def test_after_following_the_visitor_comes_back_and_gets_through(
    wx, fake_wechat, open_batch, clock
):
    fake_wechat.unfollow("o-carol-00003")
    come_back(wx, fake_wechat, "o-carol-00003")

    follow_in_wechat(wx, fake_wechat, "o-carol-00003")

    assert 'name="cases"' in wx.get("/vote/").content.decode()


def test_outside_wechat_the_page_says_to_open_it_in_wechat_and_shows_the_qr_code(
    client, fake_wechat, open_batch, clock
):
    response = client.get("/vote/", HTTP_USER_AGENT=SAFARI_UA)

    html = response.content.decode()
    assert response.status_code == 200
    assert "请在微信中打开" in html
    assert '<img class="qr" src="/wechat/qr.png"' in html
    assert 'name="cases"' not in html
    assert sum(fake_wechat.calls.values()) == 0


def test_the_qr_code_can_be_the_image_the_committee_uploaded(
    client, wechat_backend, tmp_path, open_batch
):
    image = tmp_path / "account-qr.png"
    Image.new("RGB", (10, 10), "white").save(image)
    wechat_backend.CASEVOTE_WECHAT_QR_IMAGE = str(image)

    response = client.get("/wechat/qr.png")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content == image.read_bytes()


def test_without_a_configured_qr_code_the_gate_names_the_account(
    client, wechat_backend, open_batch
):
    wechat_backend.CASEVOTE_WECHAT_QR_URL = ""

    html = client.get("/vote/").content.decode()

    assert "搜索公众号“民生周刊”" in html
    assert "/wechat/qr.png" not in html
    assert client.get("/wechat/qr.png").status_code == 404


def test_the_wechat_pages_do_not_exist_under_the_local_gate(client, wechat_backend, open_batch):
    wechat_backend.CASEVOTE_FOLLOW_BACKEND = "ballots.follow.local.LocalFollowBackend"

    assert client.get("/wechat/callback/", {"code": "x", "state": "y"}).status_code == 404
    assert client.get("/wechat/qr.png").status_code == 404


# --- Still following when the ballot is cast -----------------------------------------------


def test_an_unfollow_after_the_gate_is_refused_when_the_ballot_is_cast(
    wx, fake_wechat, open_batch, clock, wechat_backend
):
    wechat_backend.CASEVOTE_WECHAT_SUBSCRIPTION_CACHE_SECONDS = 0
    follower = follow_in_wechat(wx, fake_wechat, "o-dave-000004")
    fake_wechat.unfollow("o-dave-000004")

    response = cast(wx, clock, ["031", "034"])

    assert response.status_code == 403
    assert "您已取消关注" in error_text(response)
    assert "无法投票" in error_text(response)
    assert re.findall(r'name="cases" value="(\d{3})"[^>]*? checked', response.content.decode()) == [
        "031",
        "034",
    ]
    assert_nothing_recorded()
    follower.refresh_from_db()
    assert follower.unfollowed_at == VOTING_NOW + timedelta(seconds=5)


def test_following_again_after_a_refusal_lets_them_vote_at_once(wx, fake_wechat, open_batch, clock):
    follow_in_wechat(wx, fake_wechat, "o-dave-000004")
    clock.shift(timedelta(minutes=6))  # the cached "following" answer is over
    fake_wechat.unfollow("o-dave-000004")
    assert cast(wx, clock).status_code == 403
    refollowed = SUBSCRIBE_TIME + 3 * 24 * 3600
    fake_wechat.follow("o-dave-000004", refollowed)

    response = cast(wx, clock)

    assert response.status_code == 302
    follower = Follower.objects.get()
    assert follower.followed_at.timestamp() == SUBSCRIBE_TIME  # the first follow, as evidence
    assert follower.subscribed_at.timestamp() == refollowed
    assert follower.unfollowed_at is not None


def test_the_following_answer_is_reused_for_a_few_minutes(wx, fake_wechat, open_batch, clock):
    follow_in_wechat(wx, fake_wechat, "o-erin-000005")
    fake_wechat.unfollow("o-erin-000005")
    asked = fake_wechat.calls["cgi-bin/user/info"]

    response = cast(wx, clock)

    assert response.status_code == 302  # within the cache period: not asked again
    assert fake_wechat.calls["cgi-bin/user/info"] == asked


def test_the_answer_is_asked_again_once_the_cache_period_is_over(
    wx, fake_wechat, open_batch, clock
):
    follow_in_wechat(wx, fake_wechat, "o-erin-000005")
    fake_wechat.unfollow("o-erin-000005")
    clock.shift(timedelta(seconds=300))

    response = cast(wx, clock)

    assert response.status_code == 403
    assert "您已取消关注" in error_text(response)
    assert_nothing_recorded()


# --- The account's access token ---------------------------------------------------------


def test_the_access_token_is_fetched_once_and_shared(wx, fake_wechat, open_batch, clock):
    follow_in_wechat(wx, fake_wechat, "o-alice-000001")
    follow_in_wechat(Client(HTTP_USER_AGENT=WECHAT_UA), fake_wechat, "o-bob-000002")

    assert fake_wechat.calls["cgi-bin/stable_token"] == 1
    # cgi-bin/token would invalidate the token of the account's other systems
    assert fake_wechat.calls["cgi-bin/token"] == 0
    assert fake_wechat.calls["cgi-bin/user/info"] == 2
    assert caches["shared"].get(wechat_api._token_key()) == fake_wechat.stable_token[0]


def test_the_access_token_is_fetched_again_shortly_before_it_expires(
    wx, fake_wechat, open_batch, clock
):
    follow_in_wechat(wx, fake_wechat, "o-alice-000001")
    clock.shift(timedelta(seconds=7200 - wechat_api.TOKEN_EXPIRY_MARGIN_SECONDS + 1))

    follow_in_wechat(Client(HTTP_USER_AGENT=WECHAT_UA), fake_wechat, "o-bob-000002")

    assert fake_wechat.calls["cgi-bin/stable_token"] == 2


@pytest.mark.parametrize("errcode", [42001, 40001, 40014])
def test_a_refused_access_token_is_replaced_once_and_the_vote_goes_through(
    wx, fake_wechat, open_batch, clock, wechat_backend, errcode
):
    wechat_backend.CASEVOTE_WECHAT_SUBSCRIPTION_CACHE_SECONDS = 0
    follow_in_wechat(wx, fake_wechat, "o-frank-00006")
    if errcode == 42001:
        fake_wechat.expire_tokens()
    else:
        fake_wechat.invalid_token_errcode = errcode
        caches["shared"].set(wechat_api._token_key(), "a-token-wechat-no-longer-knows", 3600)

    response = cast(wx, clock)

    assert response.status_code == 302
    assert Ballot.objects.count() == 1
    assert fake_wechat.calls["cgi-bin/stable_token"] == 2
    assert fake_wechat.calls["cgi-bin/user/info"] == 3  # gate, refused, retried


def test_an_access_token_refused_twice_is_not_retried_again(
    wx, fake_wechat, open_batch, clock, caplog
):
    fake_wechat.follow("o-frank-00006", SUBSCRIBE_TIME)
    fake_wechat.answers["cgi-bin/user/info"] = {"errcode": 42001, "errmsg": "expired"}

    response = come_back(wx, fake_wechat, "o-frank-00006")

    assert response.status_code == 503
    # the token, the same token again (WeChat still hands it out), then a forced refresh
    assert fake_wechat.calls["cgi-bin/stable_token"] == 3
    assert fake_wechat.calls["cgi-bin/user/info"] == 2
    assert Follower.objects.count() == 0


# --- WeChat failing ------------------------------------------------------------------------

FAILURES = {
    "system busy at the code exchange": ("sns/oauth2/access_token", {"errcode": -1}, 0),
    "errcode from the token endpoint": (
        "cgi-bin/stable_token",
        {"errcode": -1, "errmsg": "busy"},
        0,
    ),
    "errcode from user info": ("cgi-bin/user/info", {"errcode": 45009, "errmsg": "quota"}, 0),
    "malformed JSON": ("cgi-bin/user/info", b'{"subscribe": 1, "openid"', 0),
    "HTML instead of JSON": ("sns/oauth2/access_token", b"<html>502 Bad Gateway</html>", 0),
    "JSON without an openid": ("sns/oauth2/access_token", {"scope": "snsapi_base"}, 0),
    "JSON without subscribe": ("cgi-bin/user/info", {"openid": "o-x"}, 0),
    "JSON that is a list": ("cgi-bin/stable_token", b"[]", 0),
    "slow code exchange": ("sns/oauth2/access_token", None, 3 * TIMEOUT),
    "slow user info": ("cgi-bin/user/info", None, 3 * TIMEOUT),
}


def misbehave(fake, endpoint, answer, delay) -> None:
    if answer is not None:
        fake.answers[endpoint] = answer
    if delay:
        fake.delays[endpoint] = delay


@pytest.mark.parametrize("failure", FAILURES.values(), ids=FAILURES.keys())
def test_a_wechat_failure_at_the_gate_gives_a_clear_page_and_no_follower(
    wx, fake_wechat, open_batch, clock, caplog, failure
):
    fake_wechat.follow("o-grace-00007", SUBSCRIBE_TIME)
    misbehave(fake_wechat, *failure)

    with caplog.at_level(logging.WARNING, logger="ballots.follow.wechat"):
        response = come_back(wx, fake_wechat, "o-grace-00007")

    assert response.status_code == 503
    assert UNAVAILABLE in response.content.decode()
    assert Follower.objects.count() == 0
    assert FOLLOWER_COOKIE not in wx.cookies
    [record] = [r for r in caplog.records if r.name == "ballots.follow.wechat"]
    assert record.levelno == logging.WARNING
    assert failure[0] in record.getMessage()
    if isinstance(failure[1], dict) and "errcode" in failure[1]:
        assert f"errcode={failure[1]['errcode']}" in record.getMessage()
    assert APP_SECRET not in caplog.text
    assert "ACCESS_TOKEN" not in caplog.text


def test_a_refused_app_secret_is_logged_without_the_secret(
    wx, fake_wechat, open_batch, clock, caplog, wechat_backend
):
    wechat_backend.CASEVOTE_WECHAT_APP_SECRET = "a-wrong-secret-value"

    response = come_back(wx, fake_wechat, "o-grace-00007")

    assert response.status_code == 500  # not an outage: "try later" would not help
    assert "微信登录设置有误" in response.content.decode()
    assert "errcode=40125" in caplog.text
    assert "a-wrong-secret-value" not in caplog.text


def test_wechat_down_entirely_gives_the_clear_page(wx, fake_wechat, open_batch, clock):
    fake_wechat.stop()  # nothing listens on the port any more

    response = come_back(wx, fake_wechat, "o-grace-00007", state=None, code="any-code")

    assert response.status_code == 503
    assert UNAVAILABLE in response.content.decode()
    assert Follower.objects.count() == 0


@pytest.mark.parametrize(
    "failure",
    [
        ({"errcode": 45009, "errmsg": "quota"}, 0),
        (b"not json", 0),
        (None, 3 * TIMEOUT),
    ],
    ids=["errcode", "malformed JSON", "timeout"],
)
def test_a_wechat_failure_when_casting_records_nothing_and_says_so(
    wx, fake_wechat, open_batch, clock, wechat_backend, failure
):
    wechat_backend.CASEVOTE_WECHAT_SUBSCRIPTION_CACHE_SECONDS = 0
    follow_in_wechat(wx, fake_wechat, "o-heidi-00008")
    misbehave(fake_wechat, "cgi-bin/user/info", *failure)

    response = cast(wx, clock, ["031", "032"])

    assert response.status_code == 503
    assert UNAVAILABLE in error_text(response)
    assert "这次投票没有记录" in error_text(response)
    assert_nothing_recorded()


# --- Single use: state and code ----------------------------------------------------------


def test_a_replayed_callback_is_refused(wx, fake_wechat, open_batch, clock):
    fake_wechat.follow("o-ivan-000009", SUBSCRIBE_TIME)
    state = start_authorisation(wx)["state"]
    code = fake_wechat.code_for("o-ivan-000009")
    assert come_back(wx, fake_wechat, "", state=state, code=code).status_code == 302
    attacker = Client(HTTP_USER_AGENT=WECHAT_UA)
    start_authorisation(attacker)  # the attacker's browser has a flow of its own

    response = come_back(attacker, fake_wechat, "", state=state, code=code)

    assert response.status_code == 403
    assert "不是从您的浏览器发起的" in response.content.decode()
    assert FOLLOWER_COOKIE not in attacker.cookies
    assert fake_wechat.calls["sns/oauth2/access_token"] == 1


def test_a_spent_state_is_refused_in_the_browser_it_was_made_for(
    wx, fake_wechat, open_batch, clock
):
    fake_wechat.follow("o-ivan-000009", SUBSCRIBE_TIME)
    fake_wechat.answers["sns/oauth2/access_token"] = {"errcode": 40029, "errmsg": "invalid code"}
    state = start_authorisation(wx)["state"]
    come_back(wx, fake_wechat, "", state=state, code="first-code")
    del fake_wechat.answers["sns/oauth2/access_token"]

    response = come_back(wx, fake_wechat, "o-ivan-000009", state=state)

    assert response.status_code == 410
    assert "已经用过了" in response.content.decode()
    assert FOLLOWER_COOKIE not in wx.cookies


def test_a_state_is_refused_with_another_code(wx, fake_wechat, open_batch, clock):
    fake_wechat.follow("o-ivan-000009", SUBSCRIBE_TIME)
    state = start_authorisation(wx)["state"]
    come_back(wx, fake_wechat, "o-ivan-000009", state=state)
    other = Client(HTTP_USER_AGENT=WECHAT_UA)
    other.cookies = wx.cookies  # even a browser that carries the flow cookie
    del other.cookies[FOLLOWER_COOKIE]

    response = come_back(other, fake_wechat, "o-ivan-000009", state)

    assert response.status_code == 410
    assert fake_wechat.calls["sns/oauth2/access_token"] == 1


def test_a_code_is_refused_with_another_state(wx, fake_wechat, open_batch, clock):
    fake_wechat.follow("o-ivan-000009", SUBSCRIBE_TIME)
    code = fake_wechat.code_for("o-ivan-000009")
    come_back(wx, fake_wechat, "", code=code)
    attacker = Client(HTTP_USER_AGENT=WECHAT_UA)

    response = come_back(attacker, fake_wechat, "", code=code)

    assert response.status_code == 410
    assert FOLLOWER_COOKIE not in attacker.cookies
    assert fake_wechat.calls["sns/oauth2/access_token"] == 1


def test_a_failed_round_trip_still_spends_its_state(wx, fake_wechat, open_batch, clock):
    fake_wechat.follow("o-ivan-000009", SUBSCRIBE_TIME)
    fake_wechat.delays["cgi-bin/user/info"] = 3 * TIMEOUT
    state = start_authorisation(wx)["state"]
    assert come_back(wx, fake_wechat, "o-ivan-000009", state=state).status_code == 503
    fake_wechat.delays.clear()

    assert come_back(wx, fake_wechat, "o-ivan-000009", state=state).status_code == 410
    assert come_back(wx, fake_wechat, "o-ivan-000009").status_code == 302  # a fresh start works


def test_a_tampered_state_is_refused_without_asking_wechat(wx, fake_wechat, open_batch, clock):
    state = start_authorisation(wx)["state"]
    tampered = state[:10] + ("0" if state[10] != "0" else "1") + state[11:]

    response = come_back(wx, fake_wechat, "o-judy-000010", state=tampered)

    assert response.status_code == 400
    assert "无效" in response.content.decode()
    assert sum(fake_wechat.calls.values()) == 0
    assert Follower.objects.count() == 0


@pytest.mark.parametrize("state", ["", "not-a-state", "ws" + "0" * 70])
def test_a_made_up_state_is_refused(wx, fake_wechat, open_batch, clock, state):
    response = wx.get("/wechat/callback/", {"code": "abc", "state": state})

    assert response.status_code == 400
    assert sum(fake_wechat.calls.values()) == 0


def test_a_callback_without_a_code_is_refused(wx, fake_wechat, open_batch, clock):
    state = start_authorisation(wx)["state"]

    response = wx.get("/wechat/callback/", {"state": state})

    assert response.status_code == 400
    assert sum(fake_wechat.calls.values()) == 0


def test_a_state_expires_after_ten_minutes(wx, fake_wechat, open_batch, clock):
    fake_wechat.follow("o-judy-000010", SUBSCRIBE_TIME)
    state = start_authorisation(wx)["state"]
    clock.shift(timedelta(minutes=10, seconds=1))

    response = come_back(wx, fake_wechat, "o-judy-000010", state=state)

    assert response.status_code == 400
    assert "已过期" in response.content.decode()
    assert Follower.objects.count() == 0


def test_a_state_works_just_before_it_expires(wx, fake_wechat, open_batch, clock):
    fake_wechat.follow("o-judy-000010", SUBSCRIBE_TIME)
    state = start_authorisation(wx)["state"]
    clock.shift(timedelta(minutes=9, seconds=59))

    assert come_back(wx, fake_wechat, "o-judy-000010", state=state).status_code == 302


# --- Configuration -------------------------------------------------------------------------


def test_the_configured_gate_passes_the_system_checks(wechat_backend):
    from ballots.checks import wechat_settings

    assert wechat_settings(None) == []


def test_a_gate_without_secret_or_qr_code_fails_the_system_checks(wechat_backend, tmp_path):
    from ballots.checks import wechat_settings

    wechat_backend.CASEVOTE_WECHAT_APP_SECRET = ""
    wechat_backend.CASEVOTE_WECHAT_QR_URL = ""
    wechat_backend.CASEVOTE_WECHAT_QR_IMAGE = str(tmp_path / "missing.png")

    assert sorted(problem.id for problem in wechat_settings(None)) == [
        "casevote.E001",
        "casevote.E004",
    ]
    wechat_backend.CASEVOTE_WECHAT_QR_IMAGE = ""
    assert "casevote.W001" in [problem.id for problem in wechat_settings(None)]


def test_the_local_gate_needs_no_wechat_settings(wechat_backend):
    from ballots.checks import wechat_settings

    wechat_backend.CASEVOTE_FOLLOW_BACKEND = "ballots.follow.local.LocalFollowBackend"
    wechat_backend.CASEVOTE_WECHAT_APP_SECRET = ""

    assert wechat_settings(None) == []


@pytest.mark.django_db(transaction=True)
def test_the_cast_time_question_to_wechat_is_asked_outside_any_transaction(
    wx, fake_wechat, open_batch, clock, wechat_backend, monkeypatch
):
    from django.db import connection

    wechat_backend.CASEVOTE_WECHAT_SUBSCRIPTION_CACHE_SECONDS = 0
    follow_in_wechat(wx, fake_wechat, "o-kim-0000011")
    asked_in_atomic_block = []
    real = wechat_api.subscription

    def watched(openid):
        asked_in_atomic_block.append(connection.in_atomic_block)
        return real(openid)

    monkeypatch.setattr(wechat_api, "subscription", watched)

    assert cast(wx, clock).status_code == 302
    assert asked_in_atomic_block == [False]


def test_an_anonymised_follower_is_not_following_and_wechat_is_not_asked(fake_wechat, db):
    from ballots.follow.wechat import WeChatFollowBackend
    from ballots.retention import PSEUDONYM_PREFIX

    follower = Follower.objects.create(
        backend="wechat", key=PSEUDONYM_PREFIX + "0" * 24, followed_at=VOTING_NOW
    )

    assert WeChatFollowBackend().still_following(follower) is False
    assert sum(fake_wechat.calls.values()) == 0
