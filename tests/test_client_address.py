"""Which address a ballot comes from: IPv4 voters are IPv4 however the server listens,
proxies are believed only when listed, and a site behind an unlisted proxy says so."""

import logging

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client

from ballots.evidence import load_records
from ballots.models import Ballot
from tests.conftest import follow_through_gate, form_token, make_ballot

pytestmark = pytest.mark.django_db

PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


def stored_address() -> tuple[str, str, str]:
    ballot = Ballot.objects.get()
    return ballot.ip_address, ballot.ip_network, ballot.ip_subnet


# --- IPv4-mapped IPv6 addresses (a server listening on [::] sees every IPv4 peer so) ----


def test_it_stores_an_ipv4_voter_seen_through_an_ipv6_socket_as_ipv4(cast, open_batch):
    response = cast(["031"], REMOTE_ADDR="::ffff:198.51.100.7")

    assert response.status_code == 302
    assert stored_address() == ("198.51.100.7", "198.51.100.7", "198.51.100.0/24")
    [record] = load_records(open_batch)  # the detector's evidence
    assert (record.ip_network, record.ip_subnet) == ("198.51.100.7", "198.51.100.0/24")


def test_a_native_ipv6_voter_keeps_the_ipv6_networks(cast):
    cast(["031"], REMOTE_ADDR="2409:8a12:3456:abcd::1")

    assert stored_address() == (
        "2409:8a12:3456:abcd::1",
        "2409:8a12:3456:abcd::/64",
        "2409:8a12:3456::/48",
    )


@pytest.mark.parametrize(
    ("budget", "earlier_address"),
    [
        ("CASEVOTE_IP_HOURLY_BUDGET", "198.51.100.7"),
        ("CASEVOTE_SUBNET_HOURLY_BUDGET", "198.51.100.9"),
    ],
)
def test_the_budgets_count_the_mapped_and_plain_forms_as_one_address(
    cast, settings, open_batch, budget, earlier_address
):
    setattr(settings, budget, 2)
    make_ballot(open_batch, [31], ip=earlier_address)
    make_ballot(open_batch, [32], ip=earlier_address)

    response = cast(["031"], REMOTE_ADDR="::ffff:198.51.100.7")

    assert response.status_code == 429
    assert Ballot.objects.count() == 2


def test_ipv4_voters_seen_through_an_ipv6_socket_do_not_share_one_budget(
    open_batch, clock, settings
):
    """The 429 of the whole site: every IPv4 voter counted in the one bucket ::/64."""
    settings.CASEVOTE_IP_HOURLY_BUDGET = 2
    settings.CASEVOTE_SUBNET_HOURLY_BUDGET = 2

    statuses = [
        vote_from(f"::ffff:203.0.{number}.1", clock).status_code for number in range(113, 116)
    ]

    assert statuses == [302, 302, 302]
    assert sorted(Ballot.objects.values_list("ip_network", flat=True)) == [
        "203.0.113.1",
        "203.0.114.1",
        "203.0.115.1",
    ]


def vote_from(address: str, clock):
    """A new voter's whole journey, every request from `address`."""
    browser = Client(REMOTE_ADDR=address)
    follow_through_gate(browser)
    token = form_token(browser.get("/vote/"))
    clock.shift(5)
    return browser.post("/vote/", {"cases": ["031"], "token": token, "website": ""})


def test_a_mapped_x_forwarded_for_behind_a_trusted_proxy_is_stored_as_ipv4(cast, settings):
    settings.CASEVOTE_TRUSTED_PROXIES = ["127.0.0.1"]

    cast(["031"], HTTP_X_FORWARDED_FOR="::ffff:9.9.9.9")

    assert stored_address() == ("9.9.9.9", "9.9.9.9", "9.9.9.0/24")


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded"),
    [
        # gunicorn on [::] behind a proxy on 127.0.0.1, listed as the README lists it.
        (["127.0.0.1"], "::ffff:127.0.0.1", "203.0.113.7"),
        # The same proxy listed in its mapped form, gunicorn on 127.0.0.1.
        (["::ffff:127.0.0.1"], "127.0.0.1", "203.0.113.7"),
        # A network listed in its mapped form, matched by a plain hop.
        (["127.0.0.1", "::ffff:10.0.0.0/104"], "127.0.0.1", "203.0.113.7, 10.1.2.3"),
        # A proxy hop in the header in its mapped form.
        (["127.0.0.1", "10.0.0.0/8"], "::ffff:127.0.0.1", "203.0.113.7, ::ffff:10.1.2.3"),
    ],
)
def test_a_trusted_proxy_is_recognised_in_either_form(cast, settings, proxies, remote, forwarded):
    settings.CASEVOTE_TRUSTED_PROXIES = proxies

    cast(["031"], REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)

    assert stored_address() == ("203.0.113.7", "203.0.113.7", "203.0.113.0/24")


def test_a_mapped_address_that_is_not_a_listed_proxy_is_the_client(cast, settings):
    settings.CASEVOTE_TRUSTED_PROXIES = ["10.0.0.0/8"]

    cast(["031"], REMOTE_ADDR="::ffff:198.51.100.7", HTTP_X_FORWARDED_FOR="203.0.113.7")

    assert stored_address() == ("198.51.100.7", "198.51.100.7", "198.51.100.0/24")


# --- Behind a proxy that is not listed, the whole site is one address -----------------


def deploy_problems() -> list[str]:
    return [problem.id for problem in run_checks(include_deployment_checks=True)]


def test_check_deploy_warns_behind_a_proxy_without_trusted_proxies(settings):
    settings.SECURE_PROXY_SSL_HEADER = PROXY_SSL_HEADER
    settings.CASEVOTE_TRUSTED_PROXIES = []

    assert "casevote.W003" in deploy_problems()
    with pytest.raises(SystemCheckError, match="CASEVOTE_TRUSTED_PROXIES"):
        call_command("check", "--deploy", "--fail-level", "WARNING")


@pytest.mark.parametrize(
    ("proxy_ssl_header", "proxies"),
    [(PROXY_SSL_HEADER, ["127.0.0.1"]), (None, [])],
)
def test_check_deploy_is_quiet_with_trusted_proxies_or_without_a_proxy(
    settings, proxy_ssl_header, proxies
):
    settings.SECURE_PROXY_SSL_HEADER = proxy_ssl_header
    settings.CASEVOTE_TRUSTED_PROXIES = proxies

    assert "casevote.W003" not in deploy_problems()


def test_the_proxy_check_runs_only_with_deploy(settings):
    settings.SECURE_PROXY_SSL_HEADER = PROXY_SSL_HEADER
    settings.CASEVOTE_TRUSTED_PROXIES = []

    assert "casevote.W003" not in [problem.id for problem in run_checks()]


def records(caplog, level: int) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == "ballots.network" and r.levelno == level
    ]


@pytest.mark.parametrize(
    ("proxies", "believed"),
    [
        ([], "client address from REMOTE_ADDR"),
        (
            ["127.0.0.1", "10.0.0.0/8"],
            "client address from X-Forwarded-For behind trusted proxies 127.0.0.1, 10.0.0.0/8",
        ),
    ],
)
def test_the_site_says_once_at_start_which_address_it_believes(settings, caplog, proxies, believed):
    settings.CASEVOTE_TRUSTED_PROXIES = proxies
    site = Client()  # a new handler: what a gunicorn worker builds when it starts

    with caplog.at_level(logging.INFO, logger="ballots.network"):
        for _ in range(3):
            site.get("/healthz")

    [line] = records(caplog, logging.INFO)
    assert line.startswith(believed)


def test_x_forwarded_for_from_an_unlisted_address_is_reported_once(settings, caplog):
    settings.CASEVOTE_TRUSTED_PROXIES = []
    site = Client()

    with caplog.at_level(logging.INFO, logger="ballots.network"):
        site.get("/healthz")  # no header: nothing to say
        site.get("/healthz", HTTP_X_FORWARDED_FOR="203.0.113.7")
        site.get("/healthz", HTTP_X_FORWARDED_FOR="203.0.113.8")
        site.get("/healthz", HTTP_X_FORWARDED_FOR="203.0.113.9", REMOTE_ADDR="10.9.9.9")

    [warning] = records(caplog, logging.WARNING)
    assert "127.0.0.1" in warning and "CASEVOTE_TRUSTED_PROXIES" in warning
    assert "203.0.113.7" not in warning  # the client's own address is not logged


def test_x_forwarded_for_from_a_trusted_proxy_is_not_reported(settings, caplog):
    settings.CASEVOTE_TRUSTED_PROXIES = ["127.0.0.1"]
    site = Client()

    with caplog.at_level(logging.INFO, logger="ballots.network"):
        site.get("/healthz", HTTP_X_FORWARDED_FOR="203.0.113.7")
        site.get("/healthz", HTTP_X_FORWARDED_FOR="203.0.113.7", REMOTE_ADDR="::ffff:127.0.0.1")

    assert records(caplog, logging.WARNING) == []
