"""Follow and unfollow events the official account pushes to /wechat/events/.

A fake of WeChat's pusher (tests/wechat_pusher.py) signs, and in safe mode encrypts,
each request as WeChat documents it, and posts it through Django's test client with
CSRF checks on. The fake WeChat API runs too, to show the endpoint never calls it.
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client

from ballots.models import Follower, FollowEvent
from ballots.retention import PSEUDONYM_PREFIX
from tests.conftest import VOTING_NOW
from tests.fake_wechat import APP_ID, APP_SECRET, FakeWeChat
from tests.wechat_pusher import WeChatPusher

pytestmark = pytest.mark.django_db

TOKEN = "casevote-event-token"
# 43 characters of base64, as the account's admin generates them.
ENCODING_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
NOW = int(VOTING_NOW.timestamp())
MODES = ["plaintext", "safe"]


@pytest.fixture
def fake_wechat():
    fake = FakeWeChat().start()
    yield fake
    fake.stop()
    assert sum(fake.calls.values()) == 0, "the event endpoint must never call WeChat"


@pytest.fixture(autouse=True)
def wechat_backend(settings, fake_wechat):
    settings.CASEVOTE_FOLLOW_BACKEND = "ballots.follow.wechat.WeChatFollowBackend"
    settings.CASEVOTE_WECHAT_APP_ID = APP_ID
    settings.CASEVOTE_WECHAT_APP_SECRET = APP_SECRET
    settings.CASEVOTE_WECHAT_API_BASE = fake_wechat.base_url
    settings.CASEVOTE_WECHAT_QR_URL = "http://weixin.qq.com/r/msweekly-test"
    settings.CASEVOTE_WECHAT_EVENT_TOKEN = TOKEN
    settings.CASEVOTE_WECHAT_ENCODING_AES_KEY = ""
    return settings


@pytest.fixture(params=MODES)
def pusher(request, wechat_backend):
    """WeChat in the account's message mode: plaintext, or safe mode (安全模式)."""
    if request.param == "safe":
        wechat_backend.CASEVOTE_WECHAT_ENCODING_AES_KEY = ENCODING_AES_KEY
        return WeChatPusher(TOKEN, APP_ID, ENCODING_AES_KEY)
    return WeChatPusher(TOKEN, APP_ID)


@pytest.fixture
def safe_pusher(wechat_backend):
    wechat_backend.CASEVOTE_WECHAT_ENCODING_AES_KEY = ENCODING_AES_KEY
    return WeChatPusher(TOKEN, APP_ID, ENCODING_AES_KEY)


@pytest.fixture
def wechat_server(clock) -> Client:
    """WeChat's server: no cookies, no CSRF token, at the frozen VOTING_NOW."""
    return Client(enforce_csrf_checks=True)


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def push_event(pusher, client, openid, event, create_time, event_key=None, **forged):
    xml = pusher.event(openid, event, create_time, event_key)
    return pusher.push(client, xml, timestamp=NOW, **forged)


def assert_success(response) -> None:
    assert response.status_code == 200, response.content
    assert response.content == b"success"
    assert response["Content-Type"].startswith("text/plain")


# --- Verification (GET) ----------------------------------------------------------------


def test_it_answers_wechats_documented_example_with_echostr(wechat_backend):
    """WeChat's 接入指引 example: Token AAAAA, timestamp 1714037059, nonce 486452656."""
    wechat_backend.CASEVOTE_WECHAT_EVENT_TOKEN = "AAAAA"
    params = {
        "signature": "899cf89e464efb63f54ddac96b0a0a235f53aa78",
        "timestamp": "1714037059",
        "nonce": "486452656",
        "echostr": "4375120948345356249",
    }
    with time_machine.travel(at(1714037059 + 60), tick=False):
        response = Client(enforce_csrf_checks=True).get("/wechat/events/", params)

    assert response.status_code == 200
    assert response.content == b"4375120948345356249"
    assert response["Content-Type"].startswith("text/plain")


def test_it_refuses_a_verification_signed_with_another_token(wechat_server):
    impostor = WeChatPusher("not-our-token", APP_ID)

    response = impostor.verify(wechat_server, timestamp=NOW, echostr="echo-me")

    assert response.status_code == 403
    assert b"echo-me" not in response.content


def test_it_refuses_a_verification_when_no_token_is_configured(wechat_server, wechat_backend):
    wechat_backend.CASEVOTE_WECHAT_EVENT_TOKEN = ""

    response = WeChatPusher("", APP_ID).verify(wechat_server, timestamp=NOW, echostr="echo-me")

    assert response.status_code == 403


# --- Events, in both modes -------------------------------------------------------------


def test_it_records_a_follow_and_creates_the_follower(pusher, wechat_server):
    """Someone who has not voted yet: their follower exists from the follow on."""
    response = push_event(
        pusher, wechat_server, "o-alice-0001", "subscribe", NOW - 30, "qrscene_poster"
    )

    assert_success(response)
    event = FollowEvent.objects.get()
    assert (event.openid, event.kind, event.created_at) == (
        "o-alice-0001",
        "subscribe",
        at(NOW - 30),
    )
    assert event.event_key == "qrscene_poster"
    assert event.received_at == VOTING_NOW
    follower = Follower.objects.get(backend="wechat", key="o-alice-0001")
    assert follower.followed_at == follower.subscribed_at == at(NOW - 30)
    assert follower.scene == "poster"
    assert follower.unfollowed_at is None


def test_it_records_an_unfollow_on_the_follower(pusher, wechat_server):
    push_event(pusher, wechat_server, "o-bob-00002", "subscribe", NOW - 600)

    response = push_event(pusher, wechat_server, "o-bob-00002", "unsubscribe", NOW - 20)

    assert_success(response)
    assert FollowEvent.objects.filter(kind="unsubscribe").count() == 1
    follower = Follower.objects.get(key="o-bob-00002")
    assert follower.unfollowed_at == at(NOW - 20)
    assert follower.followed_at == at(NOW - 600)


def test_it_records_a_scan_by_a_follower_without_changing_them(pusher, wechat_server):
    push_event(pusher, wechat_server, "o-carol-003", "subscribe", NOW - 600)

    response = push_event(pusher, wechat_server, "o-carol-003", "SCAN", NOW - 10, "poster")

    assert_success(response)
    scan = FollowEvent.objects.get(kind="scan")
    assert scan.event_key == "poster"
    follower = Follower.objects.get(key="o-carol-003")
    assert follower.subscribed_at == at(NOW - 600)


def test_an_unfollow_of_someone_never_seen_is_stored_without_a_follower(pusher, wechat_server):
    assert_success(push_event(pusher, wechat_server, "o-dave-0004", "unsubscribe", NOW - 5))

    assert FollowEvent.objects.filter(openid="o-dave-0004").count() == 1
    assert not Follower.objects.exists()


def test_messages_and_other_events_are_answered_and_not_stored(pusher, wechat_server):
    text = (
        "<xml><ToUserName><![CDATA[gh_97417a04a28d]]></ToUserName>"
        "<FromUserName><![CDATA[o-erin-0005]]></FromUserName><CreateTime>1</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[投票]]></Content>"
        "<MsgId>1234567890123456</MsgId></xml>"
    )
    click = pusher.event("o-erin-0005", "CLICK", NOW, "VOTE_MENU")

    assert_success(pusher.push(wechat_server, text, timestamp=NOW))
    assert_success(pusher.push(wechat_server, click, timestamp=NOW))
    assert not FollowEvent.objects.exists()
    assert not Follower.objects.exists()


def test_wechats_retries_are_one_event(pusher, wechat_server):
    """WeChat retries a push up to three times when it hears nothing in 5 seconds."""
    for _ in range(3):
        assert_success(push_event(pusher, wechat_server, "o-frank-006", "subscribe", NOW - 3))

    assert FollowEvent.objects.count() == 1
    assert Follower.objects.count() == 1


def test_the_database_refuses_a_second_copy_of_an_event(db):
    from django.db import IntegrityError

    fields = {"openid": "o-x", "kind": "subscribe", "created_at": at(NOW), "received_at": at(NOW)}
    FollowEvent.objects.create(**fields)
    with pytest.raises(IntegrityError):
        FollowEvent.objects.create(**fields)


# --- Order: a later event wins, whatever order they arrive in -------------------------


def test_an_unfollow_that_arrives_before_its_follow_still_counts(pusher, wechat_server):
    push_event(pusher, wechat_server, "o-grace-007", "unsubscribe", NOW - 10)
    push_event(pusher, wechat_server, "o-grace-007", "subscribe", NOW - 100)

    follower = Follower.objects.get(key="o-grace-007")
    assert follower.followed_at == follower.subscribed_at == at(NOW - 100)
    assert follower.unfollowed_at == at(NOW - 10)


def test_an_older_event_never_overwrites_a_newer_one(pusher, wechat_server):
    openid = "o-heidi-008"
    push_event(pusher, wechat_server, openid, "subscribe", NOW - 100)
    push_event(pusher, wechat_server, openid, "unsubscribe", NOW - 50)
    push_event(pusher, wechat_server, openid, "subscribe", NOW - 20)  # came back
    # Late arrivals from before: an earlier follow and an earlier unfollow.
    push_event(pusher, wechat_server, openid, "unsubscribe", NOW - 80)
    push_event(pusher, wechat_server, openid, "subscribe", NOW - 200)

    follower = Follower.objects.get(key=openid)
    assert follower.followed_at == at(NOW - 200)  # the first follow
    assert follower.subscribed_at == at(NOW - 20)  # the latest follow
    assert follower.unfollowed_at == at(NOW - 50)  # the latest unfollow
    assert FollowEvent.objects.filter(openid=openid).count() == 5


def test_a_voter_who_followed_before_keeps_their_first_follow_time(pusher, wechat_server):
    """A follower from the gate: WeChat's subscribe_time was their first follow."""
    first = VOTING_NOW - timedelta(days=30)
    Follower.objects.create(backend="wechat", key="o-ivan-0009", followed_at=first)

    push_event(pusher, wechat_server, "o-ivan-0009", "subscribe", NOW - 60)
    push_event(pusher, wechat_server, "o-ivan-0009", "unsubscribe", NOW - 30)

    follower = Follower.objects.get(key="o-ivan-0009")
    assert follower.followed_at == first
    assert follower.subscribed_at == at(NOW - 60)
    assert follower.unfollowed_at == at(NOW - 30)


def test_an_anonymised_follower_is_never_matched(pusher, wechat_server):
    anonymised = Follower.objects.create(
        backend="wechat", key=PSEUDONYM_PREFIX + "0123456789abcdef01234567", followed_at=at(0)
    )

    push_event(pusher, wechat_server, anonymised.key, "unsubscribe", NOW - 10)
    push_event(pusher, wechat_server, anonymised.key, "subscribe", NOW - 5)

    anonymised.refresh_from_db()
    assert anonymised.unfollowed_at is None
    assert anonymised.subscribed_at is None
    assert Follower.objects.count() == 1


def test_a_local_follower_with_the_same_key_is_not_a_wechat_follower(pusher, wechat_server):
    local = Follower.objects.create(backend="local", key="o-judy-0010", followed_at=at(0))

    push_event(pusher, wechat_server, "o-judy-0010", "unsubscribe", NOW - 10)

    local.refresh_from_db()
    assert local.unfollowed_at is None


# --- Refusals: nothing is stored ------------------------------------------------------


@pytest.mark.parametrize("seconds", [-301, 301])
def test_it_refuses_a_push_outside_the_replay_window(pusher, wechat_server, seconds):
    xml = pusher.event("o-kim-00011", "subscribe", NOW)

    response = pusher.push(wechat_server, xml, timestamp=NOW + seconds)

    assert response.status_code == 403
    assert not FollowEvent.objects.exists()
    assert not Follower.objects.exists()


@pytest.mark.parametrize("seconds", [-300, 300])
def test_it_accepts_a_push_at_the_edge_of_the_replay_window(pusher, wechat_server, seconds):
    xml = pusher.event("o-kim-00011", "subscribe", NOW)

    assert_success(pusher.push(wechat_server, xml, timestamp=NOW + seconds))


def test_it_refuses_a_forged_signature(pusher, wechat_server):
    response = push_event(
        pusher, wechat_server, "o-leo-00012", "subscribe", NOW, signature="0" * 40
    )

    assert response.status_code == 403
    assert not FollowEvent.objects.exists()


def test_it_refuses_a_forged_msg_signature(safe_pusher, wechat_server):
    response = push_event(
        safe_pusher, wechat_server, "o-leo-00012", "subscribe", NOW, msg_signature="0" * 40
    )

    assert response.status_code == 403
    assert not FollowEvent.objects.exists()


def test_it_refuses_ciphertext_for_another_appid(safe_pusher, wechat_server):
    response = push_event(
        safe_pusher, wechat_server, "o-mia-00013", "subscribe", NOW, app_id="wx-another-account"
    )

    assert response.status_code == 403
    assert not FollowEvent.objects.exists()


def test_it_refuses_ciphertext_under_another_key(safe_pusher, wechat_server):
    other = WeChatPusher(TOKEN, APP_ID, "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut")

    response = push_event(other, wechat_server, "o-mia-00013", "subscribe", NOW)

    assert response.status_code == 403
    assert not FollowEvent.objects.exists()


def test_safe_mode_refuses_a_plaintext_push(safe_pusher, wechat_server):
    xml = safe_pusher.event("o-nina-0014", "subscribe", NOW)

    response = safe_pusher.push(wechat_server, xml, timestamp=NOW, encrypted=False)

    assert response.status_code == 403
    assert not FollowEvent.objects.exists()


MALFORMED = {
    "not XML": b"subscribe o-olga",
    "unclosed": b"<xml><FromUserName>o-olga</xml>",
    "not WeChat's root": b"<html><FromUserName>o-olga</FromUserName></html>",
    "bad CreateTime": WeChatPusher.event("o-olga-0015", "subscribe", 0).replace(
        "<CreateTime>0", "<CreateTime>yesterday"
    ),
    "no openid": WeChatPusher.event("", "subscribe", NOW),
    "billion laughs": (
        '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        "<xml><FromUserName>&lol3;</FromUserName><CreateTime>1</CreateTime>"
        "<MsgType>event</MsgType><Event>subscribe</Event></xml>"
    ),
    "external entity": (
        '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY who SYSTEM "file:///etc/passwd">]>'
        "<xml><FromUserName>&who;</FromUserName><CreateTime>1</CreateTime>"
        "<MsgType>event</MsgType><Event>subscribe</Event></xml>"
    ),
    "too large": WeChatPusher.event("o-olga-0015", "subscribe", NOW).replace(
        "</xml>", "<Padding>" + "x" * 70_000 + "</Padding></xml>"
    ),
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_it_refuses_a_malformed_push(pusher, wechat_server, body):
    response = pusher.push(wechat_server, body, timestamp=NOW)

    assert response.status_code == 400
    assert not FollowEvent.objects.exists()
    assert not Follower.objects.exists()


def test_safe_mode_refuses_a_body_without_ciphertext(safe_pusher, wechat_server):
    body = "<xml><ToUserName>gh_97417a04a28d</ToUserName></xml>"

    response = safe_pusher.push(wechat_server, body, timestamp=NOW, encrypted=False)

    assert response.status_code == 403  # no encrypt_type=aes: not WeChat in safe mode
    assert not FollowEvent.objects.exists()


# --- Where the endpoint exists --------------------------------------------------------


def test_the_endpoint_is_404_with_the_local_gate(wechat_backend, wechat_server):
    wechat_backend.CASEVOTE_FOLLOW_BACKEND = "ballots.follow.local.LocalFollowBackend"
    pusher = WeChatPusher(TOKEN, APP_ID)

    assert pusher.verify(wechat_server, timestamp=NOW, echostr="e").status_code == 404
    assert push_event(pusher, wechat_server, "o-p", "subscribe", NOW).status_code == 404
    assert not FollowEvent.objects.exists()


def test_the_endpoint_takes_only_get_and_post(wechat_server):
    assert wechat_server.put("/wechat/events/").status_code == 405


# --- Configuration and the committee's view -------------------------------------------


def test_the_event_settings_pass_the_system_checks(wechat_backend):
    from ballots.checks import wechat_settings

    wechat_backend.CASEVOTE_WECHAT_ENCODING_AES_KEY = ENCODING_AES_KEY

    assert wechat_settings(None) == []


@pytest.mark.parametrize(
    "key", [ENCODING_AES_KEY[:-1], ENCODING_AES_KEY + "H", "!" * 43, ENCODING_AES_KEY + "="]
)
def test_a_malformed_encoding_aes_key_fails_the_system_checks(wechat_backend, key):
    from ballots.checks import wechat_settings

    wechat_backend.CASEVOTE_WECHAT_ENCODING_AES_KEY = key

    assert [problem.id for problem in wechat_settings(None)] == ["casevote.E005"]


def test_a_missing_token_is_reported_by_the_system_checks(wechat_backend):
    from ballots.checks import wechat_settings

    wechat_backend.CASEVOTE_WECHAT_EVENT_TOKEN = ""

    assert [problem.id for problem in wechat_settings(None)] == ["casevote.W002"]


def test_the_committee_reads_follow_events_and_cannot_change_them(
    pusher, wechat_server, committee_client, editor
):
    push_event(pusher, wechat_server, "o-quinn-016", "subscribe", NOW - 30)
    event = FollowEvent.objects.get()
    editor_client = Client()
    editor_client.force_login(editor)

    changelist = committee_client.get("/admin/ballots/followevent/")
    assert changelist.status_code == 200
    assert "o-quinn-016" in changelist.content.decode()
    assert committee_client.get(f"/admin/ballots/followevent/{event.pk}/change/").status_code == 200
    assert committee_client.get("/admin/ballots/followevent/add/").status_code == 403
    delete = committee_client.post(
        f"/admin/ballots/followevent/{event.pk}/delete/", {"post": "yes"}
    )
    assert delete.status_code == 403
    assert editor_client.get("/admin/ballots/followevent/").status_code == 403
    assert FollowEvent.objects.count() == 1


# --- Races (PostgreSQL) ---------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: SQLite serialises writers, so there is no race to test",
)
def test_simultaneous_retries_of_a_follow_store_one_event_and_one_follower():
    """WeChat retries while the first push is still being recorded by another worker."""
    from ballots.follow.events import Event
    from ballots.follow.wechat import record_event
    from tests.test_voting_race import race

    event = Event("o-racer-0017", "subscribe", at(NOW - 5))

    outcomes = race(lambda i: record_event(event, at(NOW)), 6)

    assert sorted(outcomes) == [False] * 5 + [True], outcomes
    assert FollowEvent.objects.count() == 1
    assert Follower.objects.filter(key="o-racer-0017").count() == 1
