"""Receipts anyone can check, and results shown only as the batch's setting allows."""

from datetime import timedelta

import pytest
from django.test import Client

from ballots.models import Ballot
from cases.models import Batch, Case
from tests.conftest import CLOSES, follow_through_gate

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_voters(open_batch, clock, cast, voter):
    """Three ballots: 031+032, 031, 031+033 (the last one from two other browsers)."""
    cast(["031", "032"])
    for numbers in (["031"], ["031", "033"]):
        other = Client()
        follow_through_gate(other)
        from tests.conftest import form_token

        token = form_token(other.get("/vote/"))
        clock.shift(timedelta(seconds=5))
        assert other.post("/vote/", {"cases": numbers, "token": token}).status_code == 302
    return open_batch


def test_a_receipt_says_a_ballot_is_counted_and_shows_nothing_personal(client, cast, voter):
    cast(["031", "032"])
    ballot = Ballot.objects.get()

    html = client.get(f"/receipt/{ballot.receipt}/").content.decode()

    assert "有效，已计入统计" in html
    assert "127.0.0.1" not in html and ballot.device_id not in html
    assert "测试社区31" not in html  # the choices are not public


def test_a_receipt_code_is_read_case_insensitively(client, cast, voter):
    cast(["031"])

    response = client.get(f"/receipt/{Ballot.objects.get().receipt.lower()}/")

    assert response.status_code == 200


def test_a_voided_ballots_receipt_gives_the_public_reason(client, cast, voter):
    cast(["031"])
    Ballot.objects.update(status=Ballot.Status.VOID, void_reason_public="同一设备批量投票")

    html = client.get(f"/receipt/{Ballot.objects.get().receipt}/").content.decode()

    assert "已作废，不计入统计" in html
    assert "同一设备批量投票" in html


@pytest.mark.parametrize("code", ["NOPE", "ABCDEFGHJK", "0000000000", "<script>"])
def test_unknown_or_malformed_receipts_are_404(client, db, code):
    assert client.get(f"/receipt/{code}/").status_code == 404


def test_hidden_results_say_the_committee_publishes_them_and_leak_no_count(client, three_voters):
    html = client.get("/results/").content.decode()

    assert "投票进行中，结果由组委会公布" in html
    assert "得票" not in html and "有效选票" not in html


def test_live_results_rank_cases_by_valid_votes(client, three_voters):
    Batch.objects.update(results_visibility=Batch.ResultsVisibility.LIVE)

    response = client.get("/results/")

    standings = [(s.rank, s.case.number, s.votes) for s in response.context["results"].candidates]
    assert standings[:3] == [(1, 31, 3), (2, 32, 1), (2, 33, 1)]
    assert standings[3] == (4, 34, 0)
    assert response.context["results"].total_ballots == 3


def test_voided_ballots_are_never_counted(client, three_voters, settings):
    Batch.objects.update(results_visibility=Batch.ResultsVisibility.LIVE)
    Ballot.objects.filter(choices__case__number=32).update(status=Ballot.Status.VOID)

    results = client.get("/results/").context["results"]

    votes = {s.case.number: s.votes for s in results.candidates}
    assert votes[31] == 2 and votes[32] == 0
    assert results.total_ballots == 2


def test_disqualified_cases_are_listed_apart(client, three_voters):
    Batch.objects.update(results_visibility=Batch.ResultsVisibility.LIVE)
    Case.objects.filter(number=31).update(status=Case.Status.DISQUALIFIED)

    response = client.get("/results/")

    results = response.context["results"]
    assert 31 not in [s.case.number for s in results.candidates]
    assert [s.case.number for s in results.disqualified] == [31]
    assert "已取消资格，不参与排名" in response.content.decode()


def test_after_close_results_appear_only_once_voting_has_closed(client, three_voters, clock):
    Batch.objects.update(results_visibility=Batch.ResultsVisibility.AFTER_CLOSE)

    clock.move_to(CLOSES - timedelta(seconds=1))
    before = client.get("/results/")
    clock.move_to(CLOSES)
    after = client.get("/results/")

    assert "results" not in before.context
    assert after.context["results"].total_ballots == 3


def test_published_results_are_visible_whatever_the_mode(client, three_voters, clock):
    from django.utils import timezone

    Batch.objects.update(results_published_at=timezone.now())

    assert client.get("/results/").context["results"].total_ballots == 3


def test_the_tally_is_cached_briefly(client, three_voters, settings, django_assert_max_num_queries):
    settings.CASEVOTE_RESULTS_CACHE_SECONDS = 30
    Batch.objects.update(results_visibility=Batch.ResultsVisibility.LIVE)
    client.get("/results/")

    with django_assert_max_num_queries(2):  # batch + cases; the counts come from the cache
        client.get("/results/")


def test_after_close_without_dates_stays_hidden(client, batch2, make_case):
    make_case(31)
    Batch.objects.update(results_visibility=Batch.ResultsVisibility.AFTER_CLOSE)

    response = client.get("/results/")

    assert response.status_code == 200
    assert "投票进行中，结果由组委会公布" in response.content.decode()
