"""Bad input at volume on every other public URL: the follow links, the gate,
receipts, the campaign page's filters, case pages, results and announcements,
the admin's login form, and CSRF. Never a 5xx; nothing recorded from bad input."""

from datetime import timedelta
from urllib.parse import quote

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core import signing
from django.http import HttpResponse
from django.utils import timezone
from hypothesis import assume, given
from hypothesis import strategies as st

from ballots import identity, tokens
from ballots.models import RECEIPT_ALPHABET, RECEIPT_LENGTH, Ballot, Follower, UsedFollowToken
from ballots.moderation import disqualify_case
from cases.models import Case
from tests.conftest import make_ballot
from tests.fuzzing import (
    assert_no_server_error,
    fuzz_client,
    fuzz_settings,
    header_text,
    nasty_text,
    random_fields,
    random_headers,
    rolled_back,
    tamper,
)

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz]

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


@pytest.fixture
def site(open_batch, clock, committee_member):
    """Batch 2 open with a ballot (and its receipt) and an announcement."""
    ballot = make_ballot(open_batch, [31, 32])
    disqualify_case(
        Case.objects.get(number=40),
        user=committee_member,
        reason="经核实存在抄袭",
        title="关于取消040号案例推选资格的公告",
        body="经核实，取消其推选资格。",
    )
    return ballot


def raw_bytes_percent_encoded(data: bytes) -> str:
    return "".join(f"%{b:02X}" for b in data)


query_pairs = st.lists(
    st.tuples(
        st.one_of(st.sampled_from(["province", "q", "page", "batch", "sort"]), nasty_text),
        st.one_of(nasty_text, st.sampled_from(["北京市", "北京市\x00", "社区", "1", "-1"])),
    ),
    max_size=5,
)

query_string = st.one_of(
    query_pairs.map(lambda pairs: "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs)),
    st.binary(max_size=80).map(raw_bytes_percent_encoded),
    st.sampled_from(["q=%00", "province=%00", "q=%ff%fe", "q", "=&=&&", "q=" + "x" * 5000]),
    header_text.map(lambda text: quote(text, safe="=&%")),
)

path_segment = st.one_of(
    nasty_text.filter(bool).map(lambda text: quote(text, safe="")),
    st.integers(min_value=0).map(str),
    st.binary(min_size=1, max_size=40).map(raw_bytes_percent_encoded),
)


def follower_cookie_for(follower: Follower) -> str:
    response = HttpResponse()
    identity.remember_follower(response, follower.pk)
    return response.cookies[identity.FOLLOWER_COOKIE].value


def test_public_pages_survive_random_paths_query_strings_and_headers(site):
    receipt = site.receipt
    paths = [
        "/",
        "/results/",
        "/selected/",
        "/announcements/",
        "/cases/031/",
        "/vote/",  # the gate, for a visitor
        f"/receipt/{receipt}/",
        "/healthz",
    ]

    @fuzz_settings(250)
    @given(
        path=st.one_of(
            st.sampled_from(paths),
            path_segment.map(lambda s: f"/cases/{s}/"),
            path_segment.map(lambda s: f"/receipt/{s}/"),
            path_segment.map(lambda s: f"/announcements/{s}/"),
            st.integers(min_value=0, max_value=10**40).map(lambda n: f"/announcements/{n}/"),
            st.integers(min_value=0, max_value=99999).map(lambda n: f"/cases/{n}/"),
            path_segment.map(lambda s: f"/{s}"),
        ),
        query=st.one_of(st.just(""), query_string),
        method=st.sampled_from(METHODS),
        headers=random_headers,
        host=st.one_of(
            st.none(),
            header_text,
            st.sampled_from(["testserver:99999", "[::1", "evil.example", "testserver\x00", ""]),
        ),
        as_follower=st.booleans(),
    )
    def request_a_page(path, query, method, headers, host, as_follower):
        if host is not None:
            headers["HTTP_HOST"] = host
        with rolled_back():
            if as_follower:  # e.g. /vote/ then shows the ballot, not the gate
                follower = Follower.objects.create(key="fuzz", followed_at=timezone.now())
                headers["HTTP_COOKIE"] = (
                    f"{identity.FOLLOWER_COOKIE}={follower_cookie_for(follower)}"
                )
            followers = Follower.objects.count()
            url = f"{path}?{query}" if query else path
            response = fuzz_client().generic(method, url, **headers)

            assert_no_server_error(response)
            assert Ballot.objects.count() == 1 and Follower.objects.count() == followers

    request_a_page()


def test_the_campaign_filters_take_any_text(site):
    """Province and search are bound to a form: a bad value is reported and ignored."""

    @fuzz_settings(200)
    @given(province=nasty_text, q=nasty_text, extra=query_pairs)
    def filter_cases(province, q, extra):
        params = [("province", province), ("q", q), *extra]
        url = "/?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in params)

        response = fuzz_client().get(url)

        assert_no_server_error(response)
        assert response.status_code == 200

    filter_cases()


def test_receipt_and_confirmation_codes_are_looked_up_safely(site):
    """Any code, for anyone; the confirmation page also for a follower."""
    follower = Follower.objects.create(key="fuzz", followed_at=timezone.now())
    cookie = follower_cookie_for(follower)
    receipt_code = st.one_of(
        path_segment,
        st.text(alphabet=RECEIPT_ALPHABET, min_size=RECEIPT_LENGTH, max_size=RECEIPT_LENGTH),
        st.text(alphabet=RECEIPT_ALPHABET.lower() + " \t", min_size=8, max_size=14),
        st.just(site.receipt + "%00"),
        st.just("%00" * RECEIPT_LENGTH),
    )

    @fuzz_settings(200)
    @given(code=receipt_code, page=st.sampled_from(["receipt", "vote/thanks"]))
    def look_up(code, page):
        response = fuzz_client().get(
            f"/{page}/{code}/", HTTP_COOKIE=f"{identity.FOLLOWER_COOKIE}={cookie}"
        )

        assert_no_server_error(response)
        assert response.status_code in {200, 404}

    look_up()


# --- The follow links ---------------------------------------------------------------

FOLLOW_KINDS = {
    # kind: a POST with it makes a follower
    "valid": True,
    "tampered": False,
    "expired": False,
    "used": False,
    "garbage": False,
    "form_token": False,
    "forged_payload": False,
}


def follow_token(data, kind: str) -> str:
    if kind == "expired":
        with time_machine.travel(timezone.now() - timedelta(minutes=10, seconds=1), tick=False):
            return tokens.make_follow_token()
    if kind == "used":
        token = tokens.make_follow_token()
        assert fuzz_client().post(f"/follow/{token}/").status_code == 302
        return token
    if kind == "garbage":
        return data.draw(nasty_text.filter(bool))
    if kind == "form_token":
        return tokens.make_form_token(1, 1)
    if kind == "forged_payload":  # signed with the site's key: unreachable without it
        payload = data.draw(
            st.one_of(
                st.fixed_dictionaries({"n": st.sampled_from(["x" * 5000, "\x00" * 32, 5, None])}),
                st.fixed_dictionaries({"n": st.text()}),
                st.one_of(st.none(), st.integers(), st.text(max_size=10)),
            )
        )
        return signing.dumps(payload, salt=tokens.FOLLOW_SALT, compress=True)
    token = tokens.make_follow_token()
    return tamper(data, token) if kind == "tampered" else token


def test_follow_links_make_a_follower_only_when_valid_and_unused(open_batch, clock):
    seen = set()

    @fuzz_settings(250)
    @given(
        data=st.data(),
        kind=st.sampled_from(sorted(FOLLOW_KINDS)),
        method=st.sampled_from(["POST", "GET", "HEAD", "PUT"]),
        qr=st.booleans(),
        headers=random_headers,
        body=random_fields,
    )
    def follow(data, kind, method, qr, headers, body):
        with rolled_back():
            token = follow_token(data, kind)
            followers = Follower.objects.count()
            used = UsedFollowToken.objects.count()
            url = f"/follow/{quote(token, safe='')}/" + ("qr.png" if qr else "")
            client = fuzz_client()

            if method == "POST":
                response = client.post(url, body, **headers)
            else:
                response = client.generic(method, url, **headers)

            assert_no_server_error(response)
            makes_follower = FOLLOW_KINDS[kind] and method == "POST" and not qr
            seen.add(makes_follower)
            if makes_follower:
                assert response.status_code == 302 and response["Location"] == "/vote/"
                assert Follower.objects.count() == followers + 1
                assert identity.FOLLOWER_COOKIE in response.cookies
            else:
                assert Follower.objects.count() == followers
                assert UsedFollowToken.objects.count() == used
                assert not response.cookies.get(identity.FOLLOWER_COOKIE)

    follow()
    assert seen == {True, False}


# --- The admin's login form (public) and CSRF -------------------------------------------


def test_the_admin_login_refuses_any_random_credentials(db, committee_member):
    @fuzz_settings(100)
    @given(username=nasty_text, password=nasty_text, next_url=nasty_text)
    def log_in(username, password, next_url):
        client = fuzz_client()

        response = client.post(
            f"/admin/login/?next={quote(next_url)}",
            {"username": username, "password": password},
        )

        assert_no_server_error(response)
        # The form again with an error, or the lockout page once one username has
        # failed five times from the test client's address.
        assert response.status_code in (200, 429)
        assert "_auth_user_id" not in client.session

    log_in()
    assert User.objects.count() == 1


def test_a_post_without_a_valid_csrf_token_is_refused_in_chinese(open_batch, clock):
    """Random or missing CSRF cookies, form fields, headers and origins, on every form
    that posts: the Chinese 403 page, and nothing recorded."""
    follower = Follower.objects.create(key="fuzz", followed_at=timezone.now())
    cookie = follower_cookie_for(follower)
    csrf_value = st.one_of(
        st.none(),
        nasty_text,
        st.text(
            alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", max_size=64
        ),
    )

    @fuzz_settings(150)
    @given(
        data=st.data(),
        target=st.sampled_from(["vote", "follow", "admin"]),
        form_value=csrf_value,
        cookie_value=csrf_value,
        header_value=csrf_value,
        origin=st.one_of(st.none(), header_text, st.just("http://evil.example")),
    )
    def post_without_csrf(data, target, form_value, cookie_value, header_value, origin):
        # A cookie with the same value in the form is a valid pair: not this test's case.
        assume(cookie_value is None or cookie_value not in (form_value, header_value))
        with rolled_back():
            url = {
                "vote": "/vote/",
                "follow": f"/follow/{tokens.make_follow_token()}/",
                "admin": "/admin/login/",
            }[target]
            fields = {"cases": ["031"], "username": "committee", "password": "pw"}
            if form_value is not None:
                fields["csrfmiddlewaretoken"] = form_value
            cookies = {identity.FOLLOWER_COOKIE: cookie}
            if cookie_value is not None:
                cookies["csrftoken"] = cookie_value
            headers = {"HTTP_COOKIE": "; ".join(f"{k}={v}" for k, v in cookies.items())}
            headers["HTTP_COOKIE"] = headers["HTTP_COOKIE"].encode().decode("latin-1")
            if header_value is not None:
                headers["HTTP_X_CSRFTOKEN"] = header_value.encode().decode("latin-1")
            if origin is not None:
                headers["HTTP_ORIGIN"] = origin
            followers, ballots = Follower.objects.count(), Ballot.objects.count()
            client = fuzz_client(enforce_csrf_checks=True)

            response = client.post(url, fields, **headers)

            assert_no_server_error(response)
            assert response.status_code == 403
            assert "提交没有成功" in response.content.decode()
            assert Follower.objects.count() == followers
            assert Ballot.objects.count() == ballots
            assert "_auth_user_id" not in client.session

    post_without_csrf()
