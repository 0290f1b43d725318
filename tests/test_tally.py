"""The vote count is shared by all workers and renewed in the background of readers:
one reader recounts when it is due, the others keep the previous count meanwhile."""

from datetime import timedelta

import pytest
from django.core.cache import caches

from ballots import tally
from ballots.models import Ballot
from casevote import freshness
from tests.conftest import make_ballot

pytestmark = pytest.mark.django_db


@pytest.fixture
def counted(open_batch, clock):
    make_ballot(open_batch, [31, 32])
    assert tally.count_votes(open_batch)[1] == 1
    return open_batch


def test_new_ballots_count_once_the_period_has_passed(counted, clock, settings):
    make_ballot(counted, [31])
    assert tally.count_votes(counted)[1] == 1  # within the period: the shared count

    clock.shift(timedelta(seconds=settings.CASEVOTE_RESULTS_CACHE_SECONDS))

    votes, ballots = tally.count_votes(counted)
    assert ballots == 2 and votes[counted.cases.get(number=31).pk] == 2


def test_while_one_reader_recounts_the_others_get_the_previous_count(counted, clock, settings):
    make_ballot(counted, [31])
    clock.shift(timedelta(seconds=settings.CASEVOTE_RESULTS_CACHE_SECONDS))
    key = tally.shared_key(freshness.version(), counted.pk)
    assert caches["shared"].add(f"{key}:recount", 1)  # another worker is counting

    assert tally.count_votes(counted)[1] == 1

    caches["shared"].delete(f"{key}:recount")  # it finished (or its lock expired)
    assert tally.count_votes(counted)[1] == 2


def test_a_void_decision_is_counted_at_once(counted, committee_member):
    from ballots import moderation

    moderation.void_ballots(
        Ballot.objects.all(), user=committee_member, reason="核实为刷票选票", public_reason=""
    )

    assert tally.count_votes(counted) == ({}, 0)


def test_without_a_period_every_read_counts(counted, settings):
    settings.CASEVOTE_RESULTS_CACHE_SECONDS = 0
    make_ballot(counted, [33])

    assert tally.count_votes(counted)[1] == 2
