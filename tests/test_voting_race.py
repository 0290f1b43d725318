"""Races: simultaneous submissions of one follower store exactly one ballot.

Real threads, each with its own database connection, released together by a
barrier. Only PostgreSQL runs them truly concurrently; SQLite serialises writers
(and the in-memory test database is not shared between connections).
"""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from ballots.errors import AlreadyVoted
from ballots.models import Ballot, Choice, Follower
from ballots.services import BallotRequest, cast_ballot
from ballots.tokens import make_form_token
from cases import catalogue
from cases.models import Batch

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: SQLite serialises writers, so there is no race to test",
    ),
]

THREADS = 8
ROUNDS = 5


def race(submit, count: int) -> list:
    """Run `submit(i)` in `count` threads released at once; results or exceptions."""
    barrier = threading.Barrier(count)
    outcomes: list = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait()
            outcomes[index] = submit(index)
        except Exception as error:  # noqa: BLE001 - the outcome is what we test
            outcomes[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def request_meta(token: str) -> BallotRequest:
    from ipaddress import ip_address

    return BallotRequest(
        ip=ip_address("192.0.2.10"), user_agent="race", device_id="d" * 32, form_token=token
    )


@pytest.fixture
def live_batch(batch2, make_case):
    for number in range(31, 36):
        make_case(number)
    now = timezone.now()
    Batch.objects.filter(pk=batch2.pk).update(
        voting_opens_at=now - timedelta(days=1), voting_closes_at=now + timedelta(days=1)
    )
    batch2.refresh_from_db()
    return batch2


def test_simultaneous_ballots_from_two_tabs_store_exactly_one(live_batch):
    served = timezone.now() - timedelta(seconds=10)
    for round_number in range(ROUNDS):
        follower = Follower.objects.create(key=f"racer-{round_number}", followed_at=served)
        tokens = [make_form_token(follower.pk, live_batch.pk, served) for _ in range(THREADS)]

        outcomes = race(
            lambda i, f=follower, t=tokens: cast_ballot(
                follower=f,
                catalogue=catalogue.load(live_batch),
                cases=["031", "032"],
                request_meta=request_meta(t[i]),
            ),
            THREADS,
        )

        created = [o for o in outcomes if not isinstance(o, Exception) and o.created]
        refused = [o for o in outcomes if isinstance(o, AlreadyVoted)]
        assert len(created) == 1, outcomes
        assert len(refused) == THREADS - 1, outcomes
        assert Ballot.objects.filter(follower=follower).count() == 1

    assert Choice.objects.count() == 2 * ROUNDS


def test_a_double_clicked_form_stores_one_ballot_and_answers_both_clicks(live_batch):
    served = timezone.now() - timedelta(seconds=10)
    follower = Follower.objects.create(key="double-click", followed_at=served)
    token = make_form_token(follower.pk, live_batch.pk, served)

    outcomes = race(
        lambda i: cast_ballot(
            follower=follower,
            catalogue=catalogue.load(live_batch),
            cases=["033"],
            request_meta=request_meta(token),
        ),
        THREADS,
    )

    assert all(not isinstance(o, Exception) for o in outcomes), outcomes
    assert len({o.ballot.pk for o in outcomes}) == 1
    assert sum(o.created for o in outcomes) == 1
    assert Ballot.objects.count() == 1 and Choice.objects.count() == 1


@pytest.mark.parametrize("decide", ["publish", "archive"])
def test_members_taking_the_same_batch_decision_at_once_record_it_once(batch2, make_case, decide):
    """Two members click "发布批次" (or "归档批次") together: one decision, one refusal each
    for the others, and the batch changed once."""
    from django.contrib.auth.models import User

    from ballots import publication
    from ballots.models import Decision
    from ballots.moderation import DecisionRefused

    make_case(31)
    if decide == "publish":
        Batch.objects.filter(pk=batch2.pk).update(published_at=None)
        take = publication.publish_batch
    else:
        take = publication.archive_batch
    members = [User.objects.create_user(f"member{i}", is_staff=True) for i in range(THREADS)]

    outcomes = race(
        lambda i: take(Batch.objects.get(pk=batch2.pk), user=members[i], reason="同时点击的决定"),
        THREADS,
    )

    assert sum(isinstance(outcome, Decision) for outcome in outcomes) == 1
    assert sum(isinstance(outcome, DecisionRefused) for outcome in outcomes) == THREADS - 1
    assert Decision.objects.count() == 1


def test_the_address_budget_holds_exactly_under_concurrent_ballots(live_batch, settings):
    """100 ballots already from one address this hour; 30 more arrive at once with a
    budget of 120: exactly 20 are stored, the other 10 are asked to wait."""
    from ballots.errors import TooManyRequests
    from tests.conftest import make_ballot

    settings.CASEVOTE_IP_HOURLY_BUDGET = 120
    concurrent = 30
    for _ in range(100):
        make_ballot(live_batch, [31], ip="192.0.2.10")
    served = timezone.now() - timedelta(seconds=10)
    followers = [
        Follower.objects.create(key=f"budget-{i}", followed_at=served) for i in range(concurrent)
    ]
    tokens = [make_form_token(f.pk, live_batch.pk, served) for f in followers]

    outcomes = race(
        lambda i: cast_ballot(
            follower=followers[i],
            catalogue=catalogue.load(live_batch),
            cases=["032"],
            request_meta=request_meta(tokens[i]),
        ),
        concurrent,
    )

    assert sum(not isinstance(o, Exception) for o in outcomes) == 20, outcomes
    assert sum(isinstance(o, TooManyRequests) for o in outcomes) == 10, outcomes
    assert Ballot.objects.filter(ip_network="192.0.2.10").count() == 120
