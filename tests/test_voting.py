"""Casting a ballot through /vote/: every rule at its edge, and refusals record nothing."""

import ipaddress
import random
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.test import Client

from ballots import network
from ballots.models import (
    CAMPAIGN_PERIOD,
    RECEIPT_ALPHABET,
    RECEIPT_LENGTH,
    Ballot,
    Choice,
    Follower,
    new_receipt_code,
)
from ballots.services import new_ballot
from ballots.tokens import make_form_token
from cases.models import Batch, Case
from tests.conftest import CLOSES, OPENS, SHANGHAI, VOTING_NOW, follow_through_gate, form_token

pytestmark = pytest.mark.django_db


def assert_nothing_recorded() -> None:
    assert Ballot.objects.count() == 0
    assert Choice.objects.count() == 0


def checked(html: str) -> list[str]:
    return re.findall(r'name="cases" value="(\d{3})"[^>]*? checked', html)


def error_text(response) -> str:
    html = response.content.decode()
    match = re.search(r'<div class="alert alert-danger"[^>]*>(.*?)</div>', html, re.S)
    assert match, "no error message shown"
    return re.sub(r"<[^>]+>", "", match.group(1))


# --- The ballot page ---------------------------------------------------------------


def test_the_ballot_offers_a_checkbox_per_votable_case_with_a_link(voter, make_case):
    Case.objects.filter(number=35).update(status=Case.Status.DISQUALIFIED)

    html = voter.get("/vote/").content.decode()

    values = re.findall(r'type="checkbox"[^>]*name="cases" value="(\d{3})"', html)
    assert values == [f"{n:03d}" for n in range(31, 41) if n != 35]
    assert re.search(r'<label for="[^"]+" class="case-choice-label">031 测试社区31</label>', html)
    assert 'href="/cases/031/"' in html


def test_the_ballot_states_the_rules(voter, open_batch):
    open_batch.min_choices, open_batch.max_choices = 2, 5
    open_batch.save()

    html = voter.get("/vote/").content.decode()

    assert "每票可选 2–5 个案例" in html
    assert "每个自然日可投一次" in html
    assert "2026年12月1日 08:00 至 2026年12月31日 20:00" in html


def test_a_visitor_without_identity_cannot_post_a_ballot(client, open_batch, clock):
    response = client.post("/vote/", {"cases": ["031"], "token": "x"})

    assert "扫码关注" in response.content.decode()
    assert_nothing_recorded()


# --- Success -----------------------------------------------------------------------


def test_a_follower_casts_a_multi_select_ballot_and_gets_a_receipt(voter, cast):
    response = cast(
        ["031", "033", "040"], HTTP_USER_AGENT="Mozilla/5.0 (iPhone) MicroMessenger/8.0"
    )

    assert response.status_code == 302
    ballot = Ballot.objects.get()
    assert response["Location"] == f"/vote/thanks/{ballot.receipt}/"
    assert sorted(c.case.number for c in Choice.objects.all()) == [31, 33, 40]
    assert ballot.status == Ballot.Status.VALID
    assert ballot.cast_day.isoformat() == "2026-12-04"
    assert ballot.period == "2026-12-04"
    assert ballot.ip_address == "127.0.0.1"
    assert ballot.ip_subnet == "127.0.0.0/24"
    assert "MicroMessenger" in ballot.user_agent
    assert len(ballot.device_id) == 32
    assert (ballot.cast_at - ballot.form_served_at).total_seconds() == 5
    assert re.fullmatch(r"[2-9A-HJ-NP-Z]{10}", ballot.receipt)


def test_the_confirmation_shows_the_choices_receipt_and_next_vote(voter, cast):
    response = cast(["031", "033", "040"])

    html = voter.get(response["Location"]).content.decode()

    assert "投票成功" in html
    assert Ballot.objects.get().receipt in html
    for number in ("031", "033", "040"):
        assert f'href="/cases/{number}/"' in html
    assert "12月5日 00:00 以后可以再投" in html


def test_the_confirmation_is_only_for_its_voter(voter, cast, open_batch):
    location = cast(["031"])["Location"]
    other = Client()
    follow_through_gate(other)

    assert other.get(location).status_code == 404


@pytest.mark.parametrize("suffix", ["%00", "x", "%E4%B8%AD"])
def test_a_malformed_confirmation_code_is_not_found(voter, cast, suffix):
    """Found by the fuzz tier: a NUL byte in the code reached PostgreSQL (a 500)."""
    location = cast(["031"])["Location"]

    assert voter.get(location.rstrip("/") + suffix + "/").status_code == 404
    assert voter.get(location).status_code == 200


def test_a_retried_submission_returns_the_same_ballot(voter, cast, clock):
    token = form_token(voter.get("/vote/"))
    first = cast(["031", "032"], token=token)
    second = cast(["031", "032"], token=token, wait=1)

    assert first["Location"] == second["Location"]
    assert Ballot.objects.count() == 1


# --- Refusals: each shows a message, keeps the selection, records nothing ----------


@pytest.mark.parametrize(
    ("numbers", "message"),
    [
        ([], "请至少选择一个案例"),
        (["031", "031"], "案例 031 被重复选择了"),
        (["061"], "案例 061 不属于本批（031–060）"),
        (["030"], "案例 030 不属于本批（031–060）"),
        (["045"], "没有编号为 045 的案例"),
        (["abc"], "“abc”不是有效的案例编号"),
        (["0311"], "“0311”不是有效的案例编号"),
    ],
)
def test_it_refuses_a_bad_selection(cast, numbers, message):
    response = cast(numbers)

    assert response.status_code == 400
    assert message in error_text(response)
    assert_nothing_recorded()


def test_it_refuses_a_disqualified_case(cast):
    Case.objects.filter(number=34).update(status=Case.Status.DISQUALIFIED)

    response = cast(["031", "034"])

    assert "案例 034 已被取消推选资格，不能投票" in error_text(response)
    assert_nothing_recorded()


def test_it_refuses_too_many_cases_and_keeps_the_selection(cast, open_batch):
    open_batch.max_choices = 3
    open_batch.save()

    response = cast(["031", "032", "033", "034"])

    assert "每票最多选择 3 个案例，您选了 4 个" in error_text(response)
    assert checked(response.content.decode()) == ["031", "032", "033", "034"]
    assert_nothing_recorded()


def test_it_accepts_exactly_the_maximum(cast, open_batch):
    open_batch.max_choices = 3
    open_batch.save()

    assert cast(["031", "032", "033"]).status_code == 302


def test_it_refuses_too_few_cases(cast, open_batch):
    open_batch.min_choices = 2
    open_batch.save()

    response = cast(["031"])

    assert "每票至少选择 2 个案例，您选了 1 个" in error_text(response)
    assert_nothing_recorded()


def test_the_default_maximum_is_every_votable_case(cast):
    assert cast([f"{n:03d}" for n in range(31, 41)]).status_code == 302


# --- The voting window ---------------------------------------------------------------


def early_token(open_batch) -> str:
    """A form token as if the page had been served: before opening there is no form."""
    from django.utils import timezone

    return make_form_token(Follower.objects.get().pk, open_batch.pk, timezone.now())


def test_it_refuses_one_second_before_opening(cast, clock, open_batch):
    clock.move_to(OPENS - timedelta(seconds=6))

    response = cast(["031"], wait=5, token=early_token(open_batch))

    assert response.status_code == 403
    assert "投票尚未开始，将于 2026年12月1日 08:00 开始" in error_text(response)
    assert_nothing_recorded()


def test_it_accepts_at_the_opening_second(cast, clock, open_batch):
    clock.move_to(OPENS - timedelta(seconds=5))

    assert cast(["031"], wait=5, token=early_token(open_batch)).status_code == 302


def test_it_accepts_one_second_before_closing(cast, clock):
    clock.move_to(CLOSES - timedelta(seconds=6))

    assert cast(["031"], wait=5).status_code == 302


def test_it_refuses_at_the_closing_second_and_keeps_the_selection(cast, clock):
    clock.move_to(CLOSES - timedelta(seconds=5))

    response = cast(["031", "032"], wait=5)

    assert response.status_code == 403
    assert "投票已于 2026年12月31日 20:00 结束" in error_text(response)
    assert checked(response.content.decode()) == ["031", "032"]
    assert_nothing_recorded()


def test_a_batch_without_dates_is_not_open(cast, open_batch):
    Batch.objects.filter(pk=open_batch.pk).update(voting_opens_at=None, voting_closes_at=None)

    response = cast(["031"], token=early_token(open_batch))

    assert "本批案例的投票尚未开放" in error_text(response)
    assert_nothing_recorded()


def test_after_closing_the_page_says_so_without_a_form(voter, clock):
    clock.move_to(CLOSES)

    html = voter.get("/vote/").content.decode()

    assert "本批投票已于 2026年12月31日 20:00 结束" in html
    assert 'name="cases"' not in html


# --- One ballot per day (or per campaign) ---------------------------------------------


def test_a_second_ballot_the_same_day_is_refused_with_the_receipt_and_next_time(voter, cast):
    old_page_token = form_token(voter.get("/vote/"))
    cast(["031"])

    response = cast(["032"], token=old_page_token)

    assert response.status_code == 409
    text = error_text(response)
    assert "您今天已经投过票了，2026年12月5日 00:00 以后可以再投" in text
    assert Ballot.objects.get().receipt in text
    assert Ballot.objects.count() == 1


def test_the_ballot_page_tells_a_voter_who_already_voted(voter, cast):
    cast(["031"])

    html = voter.get("/vote/").content.decode()

    assert Ballot.objects.get().receipt in html
    assert "12月5日 00:00 以后可以再投" in html
    assert 'name="cases"' not in html


def test_across_midnight_in_beijing_a_new_ballot_is_allowed(voter, cast, clock):
    clock.move_to(datetime(2026, 12, 4, 23, 59, 50, tzinfo=SHANGHAI))
    token_before_midnight = form_token(voter.get("/vote/"))
    cast(["031"], wait=5)  # 23:59:55
    assert cast(["032"], wait=4, token=token_before_midnight).status_code == 409  # 23:59:59

    response = cast(["032"], wait=1, token=token_before_midnight)  # 00:00:00 on 12-05

    assert response.status_code == 302
    assert [b.cast_day.isoformat() for b in Ballot.objects.order_by("cast_at")] == [
        "2026-12-04",
        "2026-12-05",
    ]


def test_once_per_campaign_refuses_the_next_day_too(voter, cast, clock, open_batch):
    open_batch.frequency = Batch.Frequency.ONCE
    open_batch.save()
    cast(["031"])
    clock.shift(timedelta(days=1))

    page = voter.get("/vote/").content.decode()
    token = make_form_token(Ballot.objects.get().follower_id, open_batch.pk)
    response = cast(["032"], token=token)

    assert "本批每人只能投一次" in page and 'name="cases"' not in page
    assert response.status_code == 409
    assert "您已经为本批案例投过票了" in error_text(response)
    assert Ballot.objects.count() == 1


def test_on_the_last_day_there_is_no_next_time(voter, cast, clock):
    clock.move_to(datetime(2026, 12, 31, 10, 0, tzinfo=SHANGHAI))

    html = voter.get(cast(["031"])["Location"]).content.decode()

    assert "本批投票在您下次可投票之前结束" in html


# --- The form's tokens ---------------------------------------------------------------


def test_it_refuses_a_missing_form_token(voter, cast):
    response = voter.post("/vote/", {"cases": ["031"], "website": ""})

    assert "投票表单缺少校验信息" in error_text(response)
    assert_nothing_recorded()


def test_it_refuses_a_tampered_form_token(voter, cast):
    token = form_token(voter.get("/vote/"))

    response = cast(["031"], token=token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))

    assert "投票表单校验失败" in error_text(response)
    assert_nothing_recorded()


def test_it_refuses_another_followers_form_token(voter, cast, open_batch):
    other = Client()
    follow_through_gate(other)
    foreign = form_token(other.get("/vote/"))

    response = cast(["031"], token=foreign)

    assert "投票表单校验失败" in error_text(response)
    assert_nothing_recorded()


def test_it_refuses_an_expired_form_and_accepts_one_just_in_time(cast):
    expired = cast(["031"], wait=600 + 1)
    assert "表单已过期" in error_text(expired)
    assert_nothing_recorded()

    assert cast(["031"], wait=600).status_code == 302


def test_it_refuses_a_form_sent_back_implausibly_fast(cast):
    response = cast(["031"], wait=1.9)

    assert "提交太快了" in error_text(response)
    assert_nothing_recorded()


def test_two_seconds_of_reading_is_enough(cast):
    assert cast(["031"], wait=2).status_code == 302


def test_it_refuses_a_filled_honeypot(cast):
    response = cast(["031"], extra={"website": "http://spam.example"})

    assert "提交失败" in error_text(response)
    assert_nothing_recorded()


@pytest.mark.parametrize("field", ["website", "token"])
def test_it_refuses_a_nul_byte_in_the_form_with_a_message_not_a_500(voter, cast, field):
    """Found by the fuzz tier: a NUL byte failed the form's own field validation and
    the view then read a missing cleaned value (KeyError, HTTP 500)."""
    token = form_token(voter.get("/vote/"))
    extra = {field: (token if field == "token" else "") + "\x00"}

    response = cast(["031"], token=token, extra=extra)

    assert response.status_code == 400
    assert "提交失败，请刷新页面后重试" in error_text(response)
    assert_nothing_recorded()


def test_it_refuses_a_post_without_csrf(open_batch, clock):
    strict = Client(enforce_csrf_checks=True)
    follow_through_gate_with_csrf(strict)
    token = form_token(strict.get("/vote/"))
    clock.shift(timedelta(seconds=5))

    response = strict.post("/vote/", {"cases": ["031"], "token": token, "website": ""})

    assert response.status_code == 403
    assert "提交没有成功" in response.content.decode()
    assert_nothing_recorded()


def follow_through_gate_with_csrf(client) -> None:
    from tests.conftest import FOLLOW_LINK

    link = FOLLOW_LINK.search(client.get("/vote/").content.decode()).group(1)
    page = client.get(link).content.decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert client.post(link, {"csrfmiddlewaretoken": csrf}).status_code == 302


# --- Addresses and budgets -----------------------------------------------------------


def test_it_refuses_over_the_hourly_address_budget_with_429(cast, settings, open_batch):
    settings.CASEVOTE_IP_HOURLY_BUDGET = 2
    make_ballots_from("127.0.0.1", 2, open_batch)

    response = cast(["031"])

    assert response.status_code == 429
    assert "操作太频繁，请稍后再试" in error_text(response)
    assert Ballot.objects.count() == 2


def test_the_address_budget_counts_only_the_last_hour(cast, settings, open_batch, clock):
    settings.CASEVOTE_IP_HOURLY_BUDGET = 2
    make_ballots_from("127.0.0.1", 2, open_batch)
    clock.shift(timedelta(hours=1))

    assert cast(["031"]).status_code == 302


def test_it_refuses_over_the_subnet_budget(cast, settings, open_batch):
    settings.CASEVOTE_SUBNET_HOURLY_BUDGET = 3
    make_ballots_from("127.0.0.9", 3, open_batch)

    assert cast(["031"]).status_code == 429


def test_a_second_ballot_over_the_budget_is_told_it_already_voted(
    voter, cast, settings, open_batch
):
    second_form = form_token(voter.get("/vote/"))  # another tab, opened before voting
    cast(["031"])
    settings.CASEVOTE_IP_HOURLY_BUDGET = 1  # this voter's own ballot used it up

    response = cast(["032"], token=second_form)

    assert response.status_code == 409
    assert "您今天已经投过票了" in error_text(response)
    assert Ballot.objects.count() == 1


def test_a_retried_form_over_the_budget_gets_its_ballot_back(voter, cast, settings, open_batch):
    token = form_token(voter.get("/vote/"))
    first = cast(["031", "032"], token=token)
    settings.CASEVOTE_IP_HOURLY_BUDGET = 1

    second = cast(["031", "032"], token=token, wait=1)

    assert second.status_code == 302
    assert second["Location"] == first["Location"]


def test_a_ballot_without_a_client_address_is_stored_without_one(cast, open_batch):
    """A Unix-socket bind gives no REMOTE_ADDR: the ballot has no network and no budget."""
    response = cast(["031", "033"], REMOTE_ADDR="")

    assert response.status_code == 302
    ballot = Ballot.objects.get()
    assert (ballot.ip_address, ballot.ip_network, ballot.ip_subnet) == (None, "", "")
    assert sorted(ballot.cases.values_list("number", flat=True)) == [31, 33]


def test_x_forwarded_for_is_ignored_unless_from_a_trusted_proxy(cast, settings):
    cast(["031"], HTTP_X_FORWARDED_FOR="203.0.113.7")

    assert Ballot.objects.get().ip_address == "127.0.0.1"


def test_x_forwarded_for_names_the_client_behind_a_trusted_proxy(cast, settings):
    settings.CASEVOTE_TRUSTED_PROXIES = ["127.0.0.1", "10.0.0.0/8"]

    cast(["031"], HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.7, 10.1.2.3")

    ballot = Ballot.objects.get()
    assert ballot.ip_address == "203.0.113.7"
    assert ballot.ip_subnet == "203.0.113.0/24"


def test_a_nul_byte_in_the_user_agent_is_dropped_not_a_500(cast):
    """Found by the fuzz tier on PostgreSQL, which cannot store NUL (a 500). gunicorn
    refuses such a header; the site must not depend on it."""
    response = cast(["031"], HTTP_USER_AGENT="Mozilla/5.0\x00 (iPhone)")

    assert response.status_code == 302
    assert Ballot.objects.get().user_agent == "Mozilla/5.0 (iPhone)"


def test_a_scoped_ipv6_address_behind_a_trusted_proxy_is_recorded_without_its_zone(cast, settings):
    settings.CASEVOTE_TRUSTED_PROXIES = ["127.0.0.1"]

    response = cast(["031"], HTTP_X_FORWARDED_FOR="fe80::1%eth0")

    assert response.status_code == 302
    assert Ballot.objects.get().ip_address == "fe80::1"


def make_ballots_from(ip: str, count: int, batch: Batch) -> None:
    """Ballots of other followers from `ip`, cast just now."""
    from django.utils import timezone

    from ballots.models import Follower, new_receipt_code

    now = timezone.now()
    for index in range(count):
        follower = Follower.objects.create(key=f"other-{ip}-{index}", followed_at=now)
        Ballot.objects.create(
            follower=follower,
            batch=batch,
            period=now.date().isoformat(),
            cast_at=now,
            cast_day=now.date(),
            form_served_at=now,
            form_nonce=f"n-{ip}-{index}",
            ip_address=ip,
            ip_network=ip,
            ip_subnet=ip.rsplit(".", 1)[0] + ".0/24",
            receipt=new_receipt_code(),
        )


@pytest.mark.parametrize(
    "payload",
    [
        {"t": float("inf")},  # OverflowError
        {"t": 1e308},  # outside the platform's time_t
        {"n": "x" * 5000},  # longer than the stored nonce
        {"n": "\x00" * 32},  # PostgreSQL cannot store NUL
    ],
)
def test_a_form_token_signed_with_an_odd_payload_is_refused(voter, cast, open_batch, payload):
    """Found by the fuzz tier: only reachable with the site's key, but a 500 before."""
    from django.core import signing
    from django.utils import timezone

    from ballots.tokens import FORM_SALT, new_nonce

    served = (timezone.now() - timedelta(seconds=5)).timestamp()
    good = {"n": new_nonce(), "t": served, "f": Follower.objects.get().pk, "b": open_batch.pk}
    token = signing.dumps(good | payload, salt=FORM_SALT)

    response = cast(["031"], token=token, wait=0)

    assert response.status_code == 400
    assert "投票表单校验失败" in error_text(response)
    assert_nothing_recorded()


# --- The rules a ballot row derives (shared with the vote simulator) ----------------


@pytest.mark.parametrize(
    ("frequency", "cast_at", "period", "day"),
    [
        # 23:59:59 and 00:00 in Beijing, given in UTC: the day is Beijing's.
        (Batch.Frequency.DAILY, datetime(2026, 12, 4, 15, 59, 59, tzinfo=UTC), "2026-12-04", 4),
        (Batch.Frequency.DAILY, datetime(2026, 12, 4, 16, 0, 0, tzinfo=UTC), "2026-12-05", 5),
        (Batch.Frequency.ONCE, datetime(2026, 12, 4, 16, 0, 0, tzinfo=UTC), CAMPAIGN_PERIOD, 5),
    ],
)
def test_a_new_ballot_takes_its_period_and_day_from_beijing_time(
    batch2, frequency, cast_at, period, day
):
    batch2.frequency = frequency

    ballot = new_ballot(
        follower_id=1,
        batch=batch2,
        cast_at=cast_at,
        form_served_at=cast_at - timedelta(seconds=30),
        form_nonce="n",
        ip=None,
        user_agent="",
        device_id="",
    )

    assert ballot.pk is None  # unsaved: cast_ballot saves it, the simulator bulk-creates
    assert (ballot.period, ballot.cast_day) == (period, date(2026, 12, day))


def test_a_new_ballot_records_the_address_networks_and_a_user_agent_that_fits(batch2):
    def made(ip: str | None, user_agent: str = "UA"):
        return new_ballot(
            follower_id=1,
            batch=batch2,
            cast_at=VOTING_NOW,
            form_served_at=VOTING_NOW,
            form_nonce="n",
            ip=ipaddress.ip_address(ip) if ip else None,
            user_agent=user_agent,
            device_id="d",
        )

    v4, v6, unknown = made("198.51.100.7", "x" * 600), made("2409:8a12:3456:abcd::1"), made(None)

    assert (v4.ip_address, v4.ip_network, v4.ip_subnet) == (
        "198.51.100.7",
        "198.51.100.7",
        "198.51.100.0/24",
    )
    assert len(v4.user_agent) == 500
    assert (v6.ip_network, v6.ip_subnet) == ("2409:8a12:3456:abcd::/64", "2409:8a12:3456::/48")
    assert (unknown.ip_address, unknown.ip_network, unknown.ip_subnet) == (None, "", "")


def test_the_address_networks_are_the_ones_ipaddress_computes():
    rng = random.Random(5)
    addresses = [ipaddress.IPv4Address(rng.getrandbits(32)) for _ in range(500)]
    addresses += [ipaddress.IPv6Address(rng.getrandbits(128)) for _ in range(500)]
    addresses += [ipaddress.ip_address(a) for a in ("::", "::1", "::ffff:1.2.3.4", "fe80::1%eth0")]

    def written(address, prefix: int) -> str:
        return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))

    for address in addresses:
        v4 = address.version == 4
        assert network.address_network(address) == (str(address) if v4 else written(address, 64))
        assert network.address_subnet(address) == written(address, 24 if v4 else 48)


def test_receipts_are_random_on_the_site_and_reproducible_with_a_seeded_generator():
    site = {new_receipt_code() for _ in range(100)}
    seeded = [new_receipt_code(random.Random(7)) for _ in range(2)]

    assert len(site) == 100
    assert all(len(code) == RECEIPT_LENGTH and set(code) <= set(RECEIPT_ALPHABET) for code in site)
    assert seeded[0] == seeded[1] and set(seeded[0]) <= set(RECEIPT_ALPHABET)
