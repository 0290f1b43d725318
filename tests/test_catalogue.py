"""The ballot's view of the catalogue is kept in each worker's memory; every write path
must make the next ballot see the change at once."""

from datetime import timedelta

import pytest
from django.core.management import call_command

from ballots import moderation
from ballots.models import Ballot
from cases import catalogue
from cases.models import Case
from tests.conftest import form_token
from tests.test_voting import error_text, make_ballots_from


@pytest.fixture
def ballot_page(voter):
    """The ballot page has been served once, so this worker holds a catalogue."""
    assert voter.get("/vote/").status_code == 200
    return voter


def test_closing_the_vote_with_set_voting_refuses_the_next_ballot(ballot_page, cast, clock):
    token = form_token(ballot_page.get("/vote/"))
    call_command(  # closes a minute ago (VOTING_NOW is 2026-12-04 10:00 in Beijing)
        "set_voting", "--batch", "2", "--opens", "2026-12-01 08:00", "--closes", "2026-12-04 09:59"
    )

    response = cast(["031"], token=token)

    assert response.status_code == 403
    assert "投票已于" in error_text(response)
    assert not Ballot.objects.exists()


def test_a_disqualified_case_leaves_the_ballot_at_once(ballot_page, cast, committee_member):
    case = Case.objects.get(number=33)
    moderation.disqualify_case(
        case,
        user=committee_member,
        reason="核实存在刷票行为",
        title="关于取消案例033资格的公告",
        body="经核查。",
    )

    assert "测试社区33" not in ballot_page.get("/vote/").content.decode()
    response = cast(["033"])
    assert response.status_code == 400
    assert "已被取消推选资格" in error_text(response)


def test_an_admin_edit_of_the_choice_limit_applies_to_the_next_ballot(
    ballot_page, cast, committee_client, open_batch
):
    from django.forms.models import model_to_dict

    data = {k: v for k, v in model_to_dict(open_batch).items() if v is not None}
    data |= {"max_choices": 2, "voting_opens_at_0": "2026-12-01", "voting_opens_at_1": "08:00:00"}
    data |= {"voting_closes_at_0": "2026-12-31", "voting_closes_at_1": "20:00:00"}
    url = f"/admin/cases/batch/{open_batch.pk}/change/"
    assert committee_client.post(url, data).status_code == 302, "admin edit refused"

    response = cast(["031", "032", "033"])

    assert response.status_code == 400
    assert "每票最多选择 2 个案例" in error_text(response)


def test_a_change_that_bypasses_the_app_is_seen_within_the_page_cache_period(
    ballot_page, cast, clock, open_batch, settings
):
    Case.objects.filter(number=34).update(status=Case.Status.DISQUALIFIED)  # e.g. SQL by hand
    assert catalogue.current().cases[34].status == Case.Status.CANDIDATE

    clock.shift(timedelta(seconds=settings.CASEVOTE_PAGE_CACHE_SECONDS + 1))

    assert catalogue.current().cases[34].status == Case.Status.DISQUALIFIED


def test_a_second_ballot_over_the_budget_is_told_it_already_voted(
    ballot_page, cast, settings, open_batch
):
    second_tab = form_token(ballot_page.get("/vote/"))
    assert cast(["031"]).status_code == 302
    settings.CASEVOTE_IP_HOURLY_BUDGET = 1
    make_ballots_from("127.0.0.1", 3, open_batch)

    response = cast(["032"], token=second_tab)

    assert response.status_code == 409
    assert "已经投过票" in error_text(response)
