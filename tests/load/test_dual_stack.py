"""gunicorn listening on [::] (every address, both families), as a dual-stack host runs
it: an IPv4 voter reaches the app as ::ffff:127.0.0.1 and must still be an IPv4 voter,
and a proxy on 127.0.0.1 listed as 127.0.0.1 must still be believed."""

import random

import pytest

from tools.harness import Gunicorn, connect

from . import harness
from .voters import Browser, Stats, cast

DUAL_STACK_PROBLEM = harness.dual_stack_problem()

pytestmark = [
    pytest.mark.load,
    pytest.mark.postgres,
    *harness.needs_postgresql_and_gunicorn(),
    pytest.mark.skipif(
        DUAL_STACK_PROBLEM is not None,
        reason=f"needs a dual-stack loopback for gunicorn on [::]: {DUAL_STACK_PROBLEM}",
    ),
]

EVERY_ADDRESS = "::"


@pytest.fixture
def serve_on_every_address(collected_static, voting_database, tmp_path):
    """Start gunicorn on [::] with load_settings plus the test's own; stopped after."""
    servers: list[Gunicorn] = []

    def serve(**settings: str) -> Gunicorn:
        server = Gunicorn(
            harness.load_settings(voting_database) | settings,
            tmp_path / "gunicorn.log",
            host=EVERY_ADDRESS,
        )
        servers.append(server)
        return server.start()

    yield serve
    for server in servers:
        server.stop()
        print(f"\n[load] gunicorn log: {server.log_path}")


def stored_addresses(database_url: str) -> list[tuple[str, str, str]]:
    connection = connect(database_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT host(ip_address), ip_network, ip_subnet FROM ballots_ballot ORDER BY id"
            )
            return cursor.fetchall()
    finally:
        connection.close()


def vote(server: Gunicorn, name: str, headers: dict[str, str] | None = None) -> None:
    """One voter's whole journey over 127.0.0.1; fails the test on any refusal."""
    stats = Stats()
    cast(
        Browser(server.port, stats, f"casevote-load/dual-stack {name}", headers),
        random.Random(name),
        retrier=False,
        stats=stats,
    )
    assert stats.server_error_count() == 0, stats.server_errors


def test_an_ipv4_voter_is_stored_as_ipv4_when_gunicorn_listens_on_every_address(
    serve_on_every_address,
):
    server = serve_on_every_address()

    vote(server, "direct")

    assert stored_addresses(server.database_url) == [("127.0.0.1", "127.0.0.1", "127.0.0.0/24")]
    log = server.log()
    assert log.count("client address from REMOTE_ADDR") == server.worker_count  # one a worker
    assert harness.traceback_lines(log) == []


def test_voters_behind_a_proxy_on_127_0_0_1_keep_their_own_budgets_on_every_address(
    serve_on_every_address,
):
    """The proxy is listed as the README lists it; gunicorn sees it as ::ffff:127.0.0.1.
    One ballot per address and per /24 an hour: three voters pass only if each is
    counted as their own address, not as the proxy's."""
    server = serve_on_every_address(
        CASEVOTE_TRUSTED_PROXIES="127.0.0.1",
        CASEVOTE_IP_HOURLY_BUDGET="1",
        CASEVOTE_SUBNET_HOURLY_BUDGET="1",
    )

    for forwarded in ("198.51.100.7", "::ffff:203.0.113.9", "2409:8a12:3456:abcd::1"):
        vote(server, forwarded, {"X-Forwarded-For": forwarded})

    assert stored_addresses(server.database_url) == [
        ("198.51.100.7", "198.51.100.7", "198.51.100.0/24"),
        ("203.0.113.9", "203.0.113.9", "203.0.113.0/24"),
        ("2409:8a12:3456:abcd::1", "2409:8a12:3456:abcd::/64", "2409:8a12:3456::/48"),
    ]
    log = server.log()
    believed = "client address from X-Forwarded-For behind trusted proxies 127.0.0.1"
    assert log.count(believed) == server.worker_count
    assert "not in CASEVOTE_TRUSTED_PROXIES" not in log
    assert harness.traceback_lines(log) == []
