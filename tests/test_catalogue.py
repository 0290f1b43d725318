"""The ballot's view of the catalogue is kept in each worker's memory. Every write path
— the admin, management commands, the committee's decisions, a queryset update — goes
through the model layer, which renews the content token, so the very next ballot obeys."""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.forms.models import model_to_dict

from ballots import moderation
from ballots.models import Ballot
from cases import catalogue
from cases.models import Batch, Case
from tests.conftest import form_token
from tests.test_moderation import confirm_action
from tests.test_voting import error_text, make_ballots_from


@pytest.fixture
def ballot_page(voter):
    """The ballot page has been served once, so this worker holds a catalogue."""
    assert voter.get("/vote/").status_code == 200
    assert catalogue.of(2) is not None
    return voter


def admin_edit(client, batch: Batch, **changes) -> None:
    data = {k: v for k, v in model_to_dict(batch).items() if v is not None}
    data |= {"voting_opens_at_0": "2026-12-01", "voting_opens_at_1": "08:00:00"}
    data |= {"voting_closes_at_0": "2026-12-31", "voting_closes_at_1": "20:00:00"}
    data |= {"change_reason": "组委会会议决定调整"} | changes
    response = client.post(f"/admin/cases/batch/{batch.pk}/change/", data)
    assert response.status_code == 302, "admin edit refused"


# Closing the vote a minute ago (VOTING_NOW is 2026-12-04 10:00 in Beijing), by each path.
def close_in_admin(client, batch):
    admin_edit(client, batch, voting_closes_at_0="2026-12-04", voting_closes_at_1="09:59:00")


def close_with_set_voting(client, batch):
    call_command("set_voting", "--batch", "2", "--close-now", "--reason", "组委会决定提前结束")


def close_with_a_queryset_update(client, batch):
    Batch.objects.filter(pk=batch.pk).update(voting_closes_at=batch.voting_opens_at.replace(day=4))


def close_with_save(client, batch):
    batch.voting_closes_at = batch.voting_opens_at.replace(day=4)
    batch.save()


@pytest.mark.parametrize(
    "close", [close_in_admin, close_with_set_voting, close_with_a_queryset_update, close_with_save]
)
def test_closing_the_vote_refuses_the_next_ballot(
    close, ballot_page, cast, clock, open_batch, admin_client
):
    token = form_token(ballot_page.get("/vote/"))

    close(admin_client, open_batch)

    response = cast(["031"], token=token)
    assert response.status_code == 403
    assert "投票已于" in error_text(response)
    assert not Ballot.objects.exists()


# Limiting a ballot to two cases, by each path.
def limit_in_admin(client, batch):
    admin_edit(client, batch, max_choices=2)


def limit_with_a_queryset_update(client, batch):
    Batch.objects.filter(pk=batch.pk).update(max_choices=2)


@pytest.mark.parametrize("limit", [limit_in_admin, limit_with_a_queryset_update])
def test_a_new_choice_limit_applies_to_the_next_ballot(
    limit, ballot_page, cast, open_batch, admin_client
):
    token = form_token(ballot_page.get("/vote/"))

    limit(admin_client, open_batch)

    response = cast(["031", "032", "033"], token=token)
    assert response.status_code == 400
    assert "每票最多选择 2 个案例" in error_text(response)


# Disqualifying case 033, by each path.
def disqualify_by_decision(client, case, committee_member):
    moderation.disqualify_case(
        case, user=committee_member, reason="核实存在刷票行为", title="公告", body="经核查。"
    )


def disqualify_in_admin(client, case, committee_member):
    client.force_login(committee_member)
    response = confirm_action(
        client,
        "/admin/cases/case/",
        "disqualify",
        [case],
        reason="核实存在刷票行为",
        title="关于取消案例033资格的公告",
        body="经核查。",
    )
    assert response.status_code == 302


def disqualify_with_a_queryset_update(client, case, committee_member):
    Case.objects.filter(pk=case.pk).update(status=Case.Status.DISQUALIFIED)


@pytest.mark.parametrize(
    "disqualify", [disqualify_by_decision, disqualify_in_admin, disqualify_with_a_queryset_update]
)
def test_a_disqualified_case_leaves_the_ballot_at_once(
    disqualify, ballot_page, cast, committee_member, client
):
    token = form_token(ballot_page.get("/vote/"))

    disqualify(client, Case.objects.get(number=33), committee_member)

    response = cast(["033"], token=token)
    assert response.status_code == 400
    assert "已被取消推选资格" in error_text(response)
    assert "测试社区33" not in ballot_page.get("/vote/").content.decode()


def test_a_title_corrected_with_load_cases_shows_on_the_next_ballot_page(
    ballot_page, open_batch, tmp_path
):
    source = {
        "batch": {"number": 2, "name": open_batch.name, "first_number": 31, "last_number": 60},
        "cases": [
            {"number": n, "title": f"测试社区{n}", "province": "北京市", "body": [f"案例{n}。"]}
            for n in range(31, 41)
        ],
    }
    source["cases"][0]["title"] = "测试社区31（更正）"
    path = tmp_path / "corrected.json"
    path.write_text(json.dumps(source, ensure_ascii=False), "utf-8")

    call_command("load_cases", str(path), verbosity=0)

    assert "测试社区31（更正）" in ballot_page.get("/vote/").content.decode()


def test_a_change_in_raw_sql_is_seen_within_the_page_cache_period(
    ballot_page, clock, open_batch, settings
):
    with connection.cursor() as cursor:  # bypasses the ORM: no token is renewed
        cursor.execute("UPDATE cases_case SET status = 'disqualified' WHERE number = 34")
    assert catalogue.of(2).cases[34].status == Case.Status.CANDIDATE

    clock.shift(timedelta(seconds=settings.CASEVOTE_PAGE_CACHE_SECONDS + 1))

    assert catalogue.of(2).cases[34].status == Case.Status.DISQUALIFIED


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
