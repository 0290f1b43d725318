"""The fake WeChat is as strict as WeChat documents it: the gate's tests mean something
only if the fake refuses what WeChat refuses."""

import json
import time
import urllib.request
from urllib.parse import urlencode

import pytest
import time_machine

from tests.fake_wechat import (
    APP_ID,
    APP_SECRET,
    AUTHORIZE_URL,
    CODE_LIFETIME,
    AuthoriseRefused,
    FakeWeChat,
)

CALLBACK = "https%3A%2F%2Fvote.example.cn%2Fwechat%2Fcallback%2F"
STATE = "ws0123456789abcdef"


@pytest.fixture
def fake():
    server = FakeWeChat().start()
    yield server
    server.stop()


def get(fake, endpoint: str, **params) -> dict:
    url = f"{fake.base_url}/{endpoint}?{urlencode(params)}"
    with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 (the local fake)
        return json.loads(answer.read())


def post(fake, endpoint: str, body: dict) -> dict:
    request = urllib.request.Request(  # noqa: S310 (the local fake)
        f"{fake.base_url}/{endpoint}", data=json.dumps(body).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
        return json.loads(answer.read())


def token(fake, **changes) -> dict:
    params = {"grant_type": "client_credential", "appid": APP_ID, "secret": APP_SECRET}
    return get(fake, "cgi-bin/token", **(params | changes))


def stable_token(fake, **changes) -> dict:
    body = {"grant_type": "client_credential", "appid": APP_ID, "secret": APP_SECRET}
    return post(fake, "cgi-bin/stable_token", body | changes)


def user_info(fake, access_token: str, openid: str) -> dict:
    return get(fake, "cgi-bin/user/info", access_token=access_token, openid=openid, lang="zh_CN")


def exchange(fake, code: str) -> dict:
    params = {"appid": APP_ID, "secret": APP_SECRET, "code": code}
    return get(fake, "sns/oauth2/access_token", **params, grant_type="authorization_code")


def test_a_new_token_invalidates_the_previous_one(fake):
    fake.follow("o-alice", 1)
    first, second = token(fake)["access_token"], token(fake)["access_token"]

    assert user_info(fake, first, "o-alice")["errcode"] == 40001
    assert user_info(fake, second, "o-alice")["subscribe"] == 1


def test_the_stable_token_is_the_same_for_every_caller_and_isolated_from_the_other(fake):
    fake.follow("o-alice", 1)
    stable = stable_token(fake)["access_token"]

    assert stable_token(fake)["access_token"] == stable
    token(fake)  # another system of the account
    assert user_info(fake, stable, "o-alice")["subscribe"] == 1
    forced = stable_token(fake, force_refresh=True)["access_token"]
    assert forced != stable
    assert user_info(fake, stable, "o-alice")["errcode"] == 42001


@pytest.mark.parametrize("call", [token, stable_token], ids=["token", "stable_token"])
def test_a_wrong_secret_is_40001_and_a_wrong_grant_type_40002(fake, call):
    assert call(fake, secret="wrong")["errcode"] == 40001
    assert call(fake, grant_type="password")["errcode"] == 40002
    assert call(fake, appid="wx-other")["errcode"] == 40013
    assert call(fake, scope="all")["errcode"] == 40097  # unknown parameter


def test_an_openid_of_another_account_is_40003(fake):
    access = stable_token(fake)["access_token"]

    assert user_info(fake, access, "o-from-another-account")["errcode"] == 40003


def test_a_code_expires_after_five_minutes_and_works_once(fake):
    with time_machine.travel(time.time(), tick=False) as clock:
        expired, used = fake.code_for("o-alice"), fake.code_for("o-bob")
        clock.shift(CODE_LIFETIME - 1)
        assert exchange(fake, used)["openid"] == "o-bob"
        assert exchange(fake, used)["errcode"] == 40163
        clock.shift(2)
        assert exchange(fake, expired)["errcode"] == 40029


def test_the_code_exchange_refuses_another_grant_type_or_parameter(fake):
    code = fake.code_for("o-alice")
    params = {"appid": APP_ID, "secret": APP_SECRET, "code": code}

    assert get(fake, "sns/oauth2/access_token", **params, grant_type="x")["errcode"] == 40002
    assert (
        get(fake, "sns/oauth2/access_token", **params, grant_type="authorization_code", x="1")[
            "errcode"
        ]
        == 40097
    )


def test_the_authorise_page_takes_the_documented_url_only(fake):
    good = (
        f"{AUTHORIZE_URL}?appid={APP_ID}&redirect_uri={CALLBACK}&response_type=code"
        f"&scope=snsapi_base&state={STATE}#wechat_redirect"
    )

    assert fake.authorise(good, "o-alice") == (
        f"https://vote.example.cn/wechat/callback/?code=code0000-alice&state={STATE}"
    )
    for bad in (
        good.removesuffix("#wechat_redirect"),
        good.replace(
            "response_type=code&scope=snsapi_base", "scope=snsapi_base&response_type=code"
        ),
        good.replace("vote.example.cn", "10.0.0.7"),
        good.replace("https%3A", "http%3A"),
        good.replace("snsapi_base", "snsapi_userinfo"),
    ):
        with pytest.raises(AuthoriseRefused):
            fake.authorise(bad, "o-alice")


def ticket(fake, access_token: str, kind: str = "jsapi") -> dict:
    return get(fake, "cgi-bin/ticket/getticket", access_token=access_token, type=kind)


def test_the_jsapi_ticket_is_one_per_account_until_it_expires_and_needs_a_valid_token(fake):
    access = stable_token(fake)["access_token"]
    first, again = ticket(fake, access), ticket(fake, access)

    assert first["errcode"] == 0 and first["ticket"] and 7190 <= first["expires_in"] <= 7200
    assert again["ticket"] == first["ticket"]
    fake.expire_ticket()
    assert ticket(fake, access)["ticket"] != first["ticket"]
    assert ticket(fake, access, kind="wx_card")["errcode"] == 40097
    assert ticket(fake, "forged")["errcode"] == 40001
    fake.expire_tokens()
    assert ticket(fake, access)["errcode"] == 42001
