"""The follow gate: QR code, one-time signed follow links, the identity cookie."""

import io
import re
from datetime import timedelta

import pytest
import zxingcpp
from PIL import Image

from ballots.identity import FOLLOWER_COOKIE
from ballots.models import Follower
from tests.conftest import FOLLOW_LINK, follow_through_gate

pytestmark = pytest.mark.django_db


def gate_link(client) -> str:
    return FOLLOW_LINK.search(client.get("/vote/").content.decode()).group(1)


def test_it_shows_the_gate_with_steps_qr_and_link_to_a_visitor(client, open_batch, clock):
    response = client.get("/vote/")

    html = response.content.decode()
    assert response.status_code == 200
    for step in ("扫码关注", "返回投票", "选择案例", "提交"):
        assert step in html
    assert "msweekly" in html
    assert re.search(r'<img class="qr" src="/follow/[^"]+/qr.png"[^>]*alt="[^"]+"', html)
    assert FOLLOW_LINK.search(html)
    assert 'name="cases"' not in html


def test_the_qr_code_decodes_to_the_absolute_follow_url(client, open_batch, clock):
    link = gate_link(client)

    response = client.get(link + "qr.png")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(response.content)))
    assert [code.text for code in decoded] == [f"http://testserver{link}"]


def test_the_follow_page_asks_for_confirmation_and_creates_nothing_on_get(
    client, open_batch, clock
):
    response = client.get(gate_link(client))

    assert response.status_code == 200
    assert "确认（演示）并返回投票" in response.content.decode()
    assert 'name="csrfmiddlewaretoken"' in response.content.decode()
    assert Follower.objects.count() == 0


def test_confirming_creates_a_follower_and_an_httponly_lax_identity(client, open_batch, clock):
    response = client.post(gate_link(client))

    assert response.status_code == 302
    assert response["Location"] == "/vote/"
    assert Follower.objects.count() == 1
    cookie = response.cookies[FOLLOWER_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert cookie["max-age"] > 365 * 24 * 3600
    assert 'name="cases"' in client.get("/vote/").content.decode()


def test_the_follow_time_is_recorded(client, open_batch, clock):
    client.post(gate_link(client))

    assert Follower.objects.get().followed_at.isoformat() == "2026-12-04T02:00:00+00:00"


def test_a_follow_link_works_once(client, open_batch, clock):
    link = gate_link(client)
    client.post(link)
    other = client.__class__()

    reused_get = other.get(link)
    reused_post = other.post(link)

    assert reused_get.status_code == 410
    assert reused_post.status_code == 410
    assert "已经用过了" in reused_post.content.decode()
    assert FOLLOW_LINK.search(reused_post.content.decode()).group(1) != link  # a fresh QR
    assert Follower.objects.count() == 1


def test_a_follow_link_expires_after_ten_minutes(client, open_batch, clock):
    link = gate_link(client)
    clock.shift(timedelta(minutes=10, seconds=1))

    response = client.post(link)

    assert response.status_code == 410
    assert "已过期" in response.content.decode()
    assert client.get(link + "qr.png").status_code == 404
    assert Follower.objects.count() == 0


def test_a_follow_link_works_just_before_it_expires(client, open_batch, clock):
    link = gate_link(client)
    clock.shift(timedelta(minutes=9, seconds=59))

    assert client.post(link).status_code == 302


def test_a_tampered_follow_link_is_refused_with_a_fresh_qr_code(client, open_batch, clock):
    link = gate_link(client)
    tampered = link[:-3] + ("A" if link[-3] != "A" else "B") + link[-2:]

    response = client.post(tampered)

    html = response.content.decode()
    assert response.status_code == 400
    assert "无效" in html
    assert FOLLOW_LINK.search(html)
    assert Follower.objects.count() == 0


def test_a_tampered_identity_cookie_is_no_identity(client, open_batch, clock):
    follow_through_gate(client)
    value = client.cookies[FOLLOWER_COOKIE].value
    follower_id, _, signature = value.partition(":")
    client.cookies[FOLLOWER_COOKIE] = f"{int(follower_id) + 1}:{signature}"

    html = client.get("/vote/").content.decode()

    assert "扫码关注" in html and 'name="cases"' not in html


def test_a_forged_unsigned_identity_cookie_is_no_identity(client, open_batch, clock):
    follow_through_gate(client)
    client.cookies[FOLLOWER_COOKIE] = str(Follower.objects.get().pk)

    assert 'name="cases"' not in client.get("/vote/").content.decode()


@pytest.mark.parametrize("value", ["²", "¹²"])
def test_a_signed_identity_that_is_not_an_ascii_number_is_no_identity(
    client, open_batch, clock, value
):
    """Found by the fuzz tier: "²".isdigit() is true but int("²") fails (a 500). Only
    reachable with the site's key, so hardening: the cookie reads as absent."""
    from django.http import HttpResponse

    from ballots.identity import FOLLOWER_SALT

    signed = HttpResponse()
    signed.set_signed_cookie(FOLLOWER_COOKIE, value, salt=FOLLOWER_SALT)
    client.cookies[FOLLOWER_COOKIE] = signed.cookies[FOLLOWER_COOKIE].value

    response = client.get("/vote/")

    assert response.status_code == 200
    assert "扫码关注" in response.content.decode()


@pytest.mark.parametrize("nonce", ["x" * 5000, "\x00" * 32, 5])
def test_a_follow_link_signed_with_an_odd_nonce_is_refused(client, open_batch, clock, nonce):
    """Found by the fuzz tier on PostgreSQL (too long, NUL: a 500). Needs the key."""
    from django.core import signing

    from ballots.tokens import FOLLOW_SALT

    token = signing.dumps({"n": nonce}, salt=FOLLOW_SALT, compress=True)

    response = client.post(f"/follow/{token}/")

    assert response.status_code == 400
    assert Follower.objects.count() == 0


def test_the_follow_confirmation_needs_csrf(open_batch, clock):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    link = gate_link(strict)

    response = strict.post(link)

    assert response.status_code == 403
    assert "提交没有成功" in response.content.decode()
    assert Follower.objects.count() == 0


# --- A demonstration, and a budget of new identities per address ---------------------------


def test_every_page_of_the_demo_gate_says_it_is_a_demonstration(client, open_batch, clock):
    link = gate_link(client)
    pages = [client.get("/vote/"), client.get(link), client.get("/follow/tampered/")]

    for page in pages:
        assert "演示模式" in page.content.decode(), page.request["PATH_INFO"]
        assert "不会关注" in page.content.decode()


def mint(address: str) -> int:
    """A fresh browser from `address` takes a follow link and confirms it; the status."""
    from django.test import Client

    browser = Client(REMOTE_ADDR=address)
    link = FOLLOW_LINK.search(browser.get("/vote/").content.decode()).group(1)
    return browser.post(link).status_code


def test_one_address_creates_at_most_the_hourly_budget_of_followers(open_batch, clock, settings):
    settings.CASEVOTE_FOLLOWS_PER_ADDRESS_HOURLY = 5

    statuses = [mint("203.0.113.9") for _ in range(7)]

    assert statuses == [302] * 5 + [429] * 2
    assert Follower.objects.filter(origin_network="203.0.113.9").count() == 5
    assert mint("203.0.113.10") == 302  # the neighbour is not this address
    clock.shift(timedelta(hours=1, seconds=1))
    assert mint("203.0.113.9") == 302


def test_the_refusal_says_why_and_offers_a_new_link(open_batch, clock, settings):
    from django.test import Client

    settings.CASEVOTE_FOLLOWS_PER_ADDRESS_HOURLY = 0
    browser = Client(REMOTE_ADDR="203.0.113.9")
    link = FOLLOW_LINK.search(browser.get("/vote/").content.decode()).group(1)

    response = browser.post(link)

    assert response.status_code == 429
    assert "这个网络新关注的人太多了，请过一会儿再试。" in response.content.decode()
    assert Follower.objects.count() == 0


# --- Back to the page the visitor came from --------------------------------------------------

FOLLOW_LINK_WITH_NEXT = re.compile(r'href="(?:https?://[^/"]+)?(/follow/[^/"]+/(?:\?[^"]*)?)"')


def follow_link_on(page) -> str:
    return FOLLOW_LINK_WITH_NEXT.search(page.content.decode()).group(1).replace("&amp;", "&")


def test_after_following_the_visitor_returns_to_the_batch_they_came_from(client, open_batch, clock):
    link = follow_link_on(client.get("/batches/2/vote/"))
    confirmation = client.get(link)
    assert '<input type="hidden" name="next" value="/batches/2/vote/">' in (
        confirmation.content.decode()
    )

    response = client.post(link.split("?")[0], {"next": "/batches/2/vote/"})

    assert response.status_code == 302
    assert response["Location"] == "/batches/2/vote/"


def test_the_qr_code_of_a_batch_page_leads_back_to_that_batch(client, open_batch, clock):
    page = client.get("/batches/2/vote/").content.decode()
    qr_src = re.search(r'<img class="qr" src="([^"]+)"', page).group(1).replace("&amp;", "&")

    image = Image.open(io.BytesIO(client.get(qr_src).content))
    [decoded] = [code.text for code in zxingcpp.read_barcodes(image)]

    assert decoded.startswith("http://testserver/follow/")
    assert decoded.endswith("/?next=%2Fbatches%2F2%2Fvote%2F")


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/", "//evil.example/vote/", "/\\evil.example", "javascript:alert(1)", ""],
)
def test_a_next_that_leaves_the_site_is_replaced_by_the_ballot(client, open_batch, clock, next_url):
    link = follow_link_on(client.get("/vote/"))

    response = client.post(link, {"next": next_url})

    assert response.status_code == 302
    assert response["Location"] == "/vote/"
