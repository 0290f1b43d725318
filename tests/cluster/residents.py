"""Residents, the committee and the database as the cluster tier sees them.

Residents are the load tier's (tests/load/voters.py: the whole journey over HTTP), each
journey from an address of its own, told to the site as nginx tells it: the nodes trust
127.0.0.1 (CASEVOTE_TRUSTED_PROXIES), so `X-Forwarded-For: 100.64.0.7` sent to nginx or
straight to a node makes the site believe the resident is at 100.64.0.7. Fresh addresses
are how the tests share one database without cleaning it: no test's ballots count
against another's hourly budgets.

The committee signs in to a node's admin with its login form and takes its decisions
with the admin's actions (the confirm page, then the decision), as a person would.
"""

import ipaddress
import itertools
import threading
from urllib.parse import urlsplit

from tests.load.voters import (
    CSRF,
    Browser,
    LoadRun,
    Page,
    Stats,
    WrongAnswer,
    expect,
    find,
)
from tools.harness import connect

# Carrier-grade NAT space (RFC 6598): nobody else's, and 16,384 /24s.
_FIRST = int(ipaddress.IPv4Address("100.64.0.0"))
_numbers = itertools.count()
_numbers_lock = threading.Lock()


def fresh_address() -> str:
    """An address no other journey of this session uses, alone in its /24: neither the
    per-address nor the per-/24 budget of one journey is spent by another."""
    with _numbers_lock:
        number = next(_numbers)
    return str(ipaddress.IPv4Address(_FIRST + (number % 16384) * 256 + 7))


def forwarded(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


def port_of(url: str) -> int:
    return urlsplit(url).port


class Residents(LoadRun):
    """LoadRun (`count` voters for `seconds`), every journey from a fresh address."""

    def new_browser(self, index: int, journey: int) -> Browser:
        return Browser(
            self.port,
            self.stats,
            f"casevote-cluster/1 voter-{index}-{journey}",
            forwarded(fresh_address()),
        )


def failures_by_kind(stats: Stats) -> dict[str, int]:
    """What went wrong for the voters, counted by kind: each HTTP status of 500 and
    over, requests without an answer, journeys given up, wrong answers."""
    kinds = {f"HTTP {status}": n for status, n in sorted(stats.statuses.items()) if status >= 500}
    kinds["no answer"] = stats.unreachable
    kinds |= {f"abandoned ({reason})": n for reason, n in sorted(stats.abandoned.items())}
    kinds["wrong answers"] = len(stats.failures)
    return {kind: n for kind, n in kinds.items() if n}


def stored_of(stats: Stats, found) -> int:
    """How many of the ballots acknowledged to these voters the database holds
    (`found`: tests.load.harness.audit)."""
    return sum(1 for ack in stats.acks if ack.receipt in found.stored)


# --- Reading pages -----------------------------------------------------------------


def read(port: int, path: str, address: str | None = None, user_agent: str = "") -> Page:
    """One GET by a visitor without cookies (a page any worker may have cached)."""
    browser = Browser(
        port,
        Stats(),
        user_agent or "casevote-cluster/reader",
        forwarded(address or fresh_address()),
    )
    return browser.get(path)


def warm(port: int, paths: list[str], times: int = 4) -> dict[str, Page]:
    """Read each page `times` over: each of the node's workers renders and caches it
    (a worker serves the next request that reaches it from its own copy)."""
    pages = {}
    for path in paths:
        for _ in range(times):
            pages[path] = expect(read(port, path), f"warming {path}", 200)
    return pages


# --- The committee in a node's admin ---------------------------------------------------

COMMITTEE_USER = "cluster-committee"
COMMITTEE_PASSWORD = "cluster-committee-password"  # noqa: S105 - a test account

CREATE_COMMITTEE_MEMBER = f"""
from django.contrib.auth.models import Group, User
user, _ = User.objects.get_or_create(username={COMMITTEE_USER!r}, defaults={{"is_staff": True}})
user.set_password({COMMITTEE_PASSWORD!r})
user.is_staff = True
user.save()
user.groups.add(Group.objects.get(name="组委会"))
"""


class Committee:
    """A committee member signed in to the admin of the node at `port`."""

    def __init__(self, port: int):
        self.port = port
        self.browser = Browser(port, Stats(), "casevote-cluster/committee", forwarded("192.0.2.10"))

    def sign_in(self) -> "Committee":
        form = expect(self.browser.get("/admin/login/?next=/admin/"), "admin login form", 200)
        signed_in = self.browser.post(
            "/admin/login/?next=/admin/",
            {
                "csrfmiddlewaretoken": find(CSRF, form, "admin login form"),
                "username": COMMITTEE_USER,
                "password": COMMITTEE_PASSWORD,
                "next": "/admin/",
            },
        )
        if signed_in.status != 302 or signed_in.location != "/admin/":
            raise WrongAnswer(
                f"the committee member could not sign in on port {self.port}: "
                f"{signed_in.status} {signed_in.excerpt()}"
            )
        return self

    def decide(self, changelist: str, action: str, pk: int, **fields: str) -> Page:
        """Select row `pk` on the admin `changelist`, run `action`, fill its confirm page
        with `fields` and confirm: the page the admin goes back to, with its message."""
        listing = expect(self.browser.get(changelist), f"{changelist}", 200)
        chosen = {"action": action, "_selected_action": [str(pk)], "index": "0"}
        confirm = self.browser.post(
            changelist,
            {"csrfmiddlewaretoken": find(CSRF, listing, changelist), "select_across": "0"} | chosen,
        )
        expect(confirm, f"the confirm page of {action}", 200)
        done = self.browser.post(
            changelist,
            {"csrfmiddlewaretoken": find(CSRF, confirm, f"the confirm page of {action}")}
            | chosen
            | fields
            | {"confirm": "1"},
        )
        if done.status != 302:
            raise WrongAnswer(f"{action} of #{pk} was not taken: {done.status} {done.excerpt()}")
        return expect(self.browser.get(done.location), f"after {action}", 200)

    def disqualify(self, case_pk: int, number: int) -> Page:
        return self.decide(
            "/admin/cases/case/",
            "disqualify",
            case_pk,
            reason="集群测试：监测证据确凿，组织刷票",
            title=f"关于取消{number:03d}号案例推选资格的公告",
            body=f"经组委会核查，{number:03d}号案例存在组织刷票行为，取消其推选资格。",
        )

    def publish_batch(self, batch_pk: int) -> Page:
        return self.decide(
            "/admin/cases/batch/", "publish_batch", batch_pk, reason="集群测试：组委会决定发布"
        )


# --- The database, read directly (not through PgBouncer) ------------------------------


def scalar(database_url: str, sql: str, params: tuple = ()):
    connection = connect(database_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
            return row[0] if row else None
    finally:
        connection.close()


def case_pk(database_url: str, number: int) -> int:
    return scalar(database_url, "SELECT id FROM cases_case WHERE number = %s", (number,))


def batch_pk(database_url: str, number: int) -> int:
    return scalar(database_url, "SELECT id FROM cases_batch WHERE number = %s", (number,))
