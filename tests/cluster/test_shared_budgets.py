"""The hourly budgets hold exactly across both nodes under concurrent load.

Budgets are small here, and many more residents than they allow arrive at once: from
one address (the new-follower budget, then the per-address ballot budget), and from
thirty addresses of one /24 (the per-/24 ballot budget). Every resident's follow
confirmations, and then every ballot, are sent at the same moment, spread over nginx,
node 0 and node 1 directly. Exactly the budget is stored: not one over (the count and
the insert are not atomic across nodes unless the database makes them so), not one
under (a refusal that should not have been).
"""

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest

from tests.load.voters import (
    CASE_CHOICE,
    CSRF,
    DWELL_SECONDS,
    FOLLOW_LINK,
    FORM_TOKEN,
    THANKS,
    Browser,
    Stats,
    expect,
    find,
)

from .residents import forwarded, port_of, scalar

pytestmark = [pytest.mark.cluster, pytest.mark.postgres]

ADDRESS_BALLOTS = 5
SUBNET_BALLOTS = 12
ADDRESS_FOLLOWS = 8
BUDGETS = {
    "CASEVOTE_IP_HOURLY_BUDGET": str(ADDRESS_BALLOTS),
    "CASEVOTE_SUBNET_HOURLY_BUDGET": str(SUBNET_BALLOTS),
    "CASEVOTE_FOLLOWS_PER_ADDRESS_HOURLY": str(ADDRESS_FOLLOWS),
}
ONE_ADDRESS = "198.51.100.7"
ONE_ADDRESS_RESIDENTS = 24
SUBNET = "203.0.113.0/24"
SUBNET_PREFIX = "203.0.113."
SUBNET_RESIDENTS = 30
BARRIER_SECONDS = 90


@dataclass
class Outcomes:
    """What each step answered, by HTTP status, shared by the residents' threads."""

    follows: Counter = field(default_factory=Counter)
    ballots: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, counter: Counter, status: int) -> None:
        with self.lock:
            counter[status] += 1

    def problem(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)


def resident(
    port: int, address: str, name: str, together: threading.Barrier, outcomes: Outcomes
) -> None:
    """Follow, read the ballot, vote: the follow confirmation and the ballot are sent
    when every resident is ready to send theirs (`together`), whatever happened before."""
    stats = Stats()
    browser = Browser(port, stats, f"casevote-cluster/{name}", forwarded(address))
    link = data = form = None
    try:
        gate = expect(browser.get("/vote/"), f"{name}: gate", 200)
        link = find(FOLLOW_LINK, gate, f"{name}: gate")
        confirm = expect(browser.get(link), f"{name}: follow page", 200)
        data = {"csrfmiddlewaretoken": find(CSRF, confirm, f"{name}: follow page")}
    except Exception as error:  # noqa: BLE001 - told in the report, the barrier still met
        outcomes.problem(f"{name}: {error!r}")
    together.wait()
    if data is not None:
        try:
            followed = browser.post(link, data)
            outcomes.note(outcomes.follows, followed.status)
            if followed.status == 302:
                form = expect(browser.get("/vote/"), f"{name}: ballot form", 200)
            elif followed.status != 429:
                outcomes.problem(f"{name}: follow answered {followed.status}")
        except Exception as error:  # noqa: BLE001 - as above
            outcomes.problem(f"{name}: {error!r}")
    time.sleep(DWELL_SECONDS)  # reading, as the site requires
    together.wait()
    if form is None:
        return
    try:
        ballot = browser.post(
            "/vote/",
            {
                "csrfmiddlewaretoken": find(CSRF, form, f"{name}: ballot form"),
                "token": find(FORM_TOKEN, form, f"{name}: ballot form"),
                "website": "",
                "cases": CASE_CHOICE.findall(form.text)[:3],
            },
        )
    except Exception as error:  # noqa: BLE001 - as above
        outcomes.problem(f"{name}: ballot: {error!r}")
        return
    outcomes.note(outcomes.ballots, ballot.status)
    if not (ballot.status == 302 and THANKS.match(ballot.location)) and ballot.status != 429:
        outcomes.problem(f"{name}: ballot answered {ballot.status}: {ballot.excerpt()}")


def test_budgets_are_exact_across_both_nodes_under_concurrent_load(nodes_with):
    cluster = nodes_with(BUDGETS)
    ports = [port_of(cluster.url)] + [port_of(node.base_url) for node in cluster.nodes]
    subnet_addresses = [f"203.0.113.{n}" for n in range(1, SUBNET_RESIDENTS + 1)]
    crowd = [(ONE_ADDRESS, f"one-address-{n}") for n in range(ONE_ADDRESS_RESIDENTS)] + [
        (address, f"subnet-{address}") for address in subnet_addresses
    ]
    together = threading.Barrier(len(crowd), timeout=BARRIER_SECONDS)
    one, many = Outcomes(), Outcomes()
    threads = [
        threading.Thread(
            target=resident,
            args=(
                ports[index % len(ports)],
                address,
                name,
                together,
                one if address == ONE_ADDRESS else many,
            ),
        )
        for index, (address, name) in enumerate(crowd)
    ]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(2 * BARRIER_SECONDS)
    direct = cluster.direct_database_url
    followers = scalar(
        direct, "SELECT count(*) FROM ballots_follower WHERE origin_network = %s", (ONE_ADDRESS,)
    )
    address_ballots = scalar(
        direct, "SELECT count(*) FROM ballots_ballot WHERE ip_address = %s::inet", (ONE_ADDRESS,)
    )
    subnet_ballots = scalar(
        direct, "SELECT count(*) FROM ballots_ballot WHERE ip_address <<= %s::inet", (SUBNET,)
    )
    subnet_followers = scalar(
        direct,
        "SELECT count(*) FROM ballots_follower WHERE origin_network LIKE %s",
        (SUBNET_PREFIX + "%",),
    )

    print(
        f"\n[cluster] budgets {BUDGETS} in {time.monotonic() - began:.1f} s, "
        f"spread over nginx, node 0 and node 1:\n"
        f"[cluster] {ONE_ADDRESS_RESIDENTS} residents at {ONE_ADDRESS}: follows answered "
        f"{dict(one.follows)}, {followers} followers stored; ballots answered "
        f"{dict(one.ballots)}, {address_ballots} stored\n"
        f"[cluster] {SUBNET_RESIDENTS} residents in {SUBNET}: follows answered "
        f"{dict(many.follows)}, {subnet_followers} followers stored; ballots answered "
        f"{dict(many.ballots)}, {subnet_ballots} stored"
    )
    assert not any(thread.is_alive() for thread in threads), "residents still running"
    assert one.problems == [] and many.problems == [], "\n".join(one.problems + many.problems)
    assert followers == ADDRESS_FOLLOWS, (
        f"{followers} new followers stored from {ONE_ADDRESS}, the hourly budget is "
        f"{ADDRESS_FOLLOWS}: the two nodes {'let one over' if followers > ADDRESS_FOLLOWS else 'refused some under'} it"
    )
    assert one.follows == {302: ADDRESS_FOLLOWS, 429: ONE_ADDRESS_RESIDENTS - ADDRESS_FOLLOWS}, (
        f"the follow confirmations at {ONE_ADDRESS} were not answered as the budget says"
    )
    assert address_ballots == ADDRESS_BALLOTS, (
        f"{address_ballots} ballots stored from {ONE_ADDRESS}, the hourly budget is "
        f"{ADDRESS_BALLOTS}: not exact across the two nodes"
    )
    assert one.ballots == {302: ADDRESS_BALLOTS, 429: ADDRESS_FOLLOWS - ADDRESS_BALLOTS}, (
        f"the ballots from {ONE_ADDRESS} were not answered as the budget says"
    )
    assert subnet_followers == SUBNET_RESIDENTS, (
        f"{subnet_followers} of {SUBNET_RESIDENTS} residents of {SUBNET} could follow, "
        "each from an address of their own"
    )
    assert subnet_ballots == SUBNET_BALLOTS, (
        f"{subnet_ballots} ballots stored from {SUBNET}, the hourly budget per /24 is "
        f"{SUBNET_BALLOTS}: not exact across the two nodes"
    )
    assert many.ballots == {302: SUBNET_BALLOTS, 429: SUBNET_RESIDENTS - SUBNET_BALLOTS}, (
        f"the ballots from {SUBNET} were not answered as the budget says"
    )
