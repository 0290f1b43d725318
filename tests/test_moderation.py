"""The committee's decisions in the admin: void/restore, disqualify/reinstate,
the final list, publishing, exports, permissions per group — and nothing deleted."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from ballots.models import Announcement, Ballot, Choice, Decision, DecisionBallot, ExpertReview
from cases.models import Batch, Case
from tests.conftest import make_ballot

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/ballots/ballot/"
CASES = "/admin/cases/case/"
BATCHES = "/admin/cases/batch/"


@pytest.fixture
def polled(open_batch):
    """Six ballots: four from one address for 031 (+032), two honest ones for 033/032."""
    now = timezone.now()
    ballots = [make_ballot(open_batch, [31, 32], ip="203.0.113.9", when=now) for _ in range(4)]
    ballots.append(make_ballot(open_batch, [33, 32], ip="198.51.100.1", when=now))
    ballots.append(make_ballot(open_batch, [33], ip="198.51.100.2", when=now))
    return ballots


def run_action(client, url, action, objects, **data):
    payload = {"action": action, "_selected_action": [o.pk for o in objects], **data}
    return client.post(url, payload)


def confirm_action(client, url, action, objects, **data):
    return run_action(client, url, action, objects, confirm="1", **data)


# --- Groups and permissions -----------------------------------------------------------


def test_the_groups_have_exact_permissions(db):
    def codenames(name):
        return set(Group.objects.get(name=name).permissions.values_list("codename", flat=True))

    assert codenames("编辑") == {
        "view_batch",
        "add_batch",
        "change_batch",
        "view_case",
        "add_case",
        "change_case",
        "view_announcement",
    }
    committee = codenames("组委会")
    assert {"void_ballots", "decide_cases", "select_cases", "publish", "view_evidence"} <= committee
    assert not any(code.startswith("delete_") for code in committee)
    assert "add_ballot" not in committee and "change_ballot" not in committee


def test_staff_outside_the_groups_see_nothing(client, outsider, polled):
    client.force_login(outsider)

    assert client.get(CHANGELIST).status_code == 403
    assert client.get(CASES).status_code == 403
    assert client.get("/admin/ballots/decision/").status_code == 403
    assert client.get(f"/admin/cases/batch/{polled[0].batch_id}/monitoring/").status_code == 403


def test_editors_manage_the_catalogue_but_see_no_ballots_or_decisions(client, editor, polled):
    client.force_login(editor)

    assert client.get(CASES).status_code == 200
    assert client.get(CHANGELIST).status_code == 403
    assert client.get(f"/admin/cases/batch/{polled[0].batch_id}/monitoring/").status_code == 403
    assert "取消推选资格" not in client.get(CASES).content.decode()


def test_editors_cannot_change_the_voting_settings(client, editor, open_batch):
    client.force_login(editor)

    form = client.get(f"{BATCHES}{open_batch.pk}/change/").context["adminform"].form

    assert "name" in form.fields
    assert "voting_opens_at" not in form.fields and "results_visibility" not in form.fields


def test_the_committee_edits_the_voting_settings_but_not_the_catalogue(
    committee_client, open_batch
):
    form = committee_client.get(f"{BATCHES}{open_batch.pk}/change/").context["adminform"].form

    assert "voting_opens_at" in form.fields and "max_choices" in form.fields
    assert "name" not in form.fields and "results_published_at" not in form.fields


def test_ballots_are_read_only_for_everyone(admin_client, polled):
    ballot = polled[0]

    change = admin_client.get(f"{CHANGELIST}{ballot.pk}/change/")
    delete = admin_client.post(f"{CHANGELIST}{ballot.pk}/delete/", {"post": "yes"})

    assert change.status_code == 200 and not change.context["has_change_permission"]
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403
    assert delete.status_code == 403
    assert Ballot.objects.count() == 6


def test_the_ballot_list_searches_receipts_and_filters_by_case_day_status(committee_client, polled):
    receipt = polled[0].receipt

    by_receipt = committee_client.get(CHANGELIST, {"q": receipt})
    by_case = committee_client.get(CHANGELIST, {"cases__id__exact": Case.objects.get(number=33).pk})

    assert [b.receipt for b in by_receipt.context["cl"].result_list] == [receipt]
    assert len(by_case.context["cl"].result_list) == 2


def test_vote_counts_are_hidden_from_editors_until_results_are_published(
    client, editor, committee_member, polled, open_batch
):
    client.force_login(editor)
    hidden = client.get(CASES).content.decode()
    client.force_login(committee_member)
    committee_view = client.get(CASES)
    Batch.objects.filter(pk=open_batch.pk).update(results_published_at=timezone.now())
    client.force_login(editor)
    published = client.get(CASES)

    assert "有效票" in hidden and ">4<" not in hidden.replace(" ", "")
    assert votes_in(committee_view)[31] == 4
    assert votes_in(published)[31] == 4


def votes_in(response) -> dict[int, object]:
    changelist = response.context["cl"]
    column = changelist.list_display[-1]
    return {case.number: column(case) for case in changelist.result_list}


# --- Voiding and restoring ----------------------------------------------------------


def test_voiding_needs_a_reason_and_changes_nothing_without_one(committee_client, polled):
    response = confirm_action(committee_client, CHANGELIST, "void_selected", polled[:4], reason="")

    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    assert Ballot.objects.filter(status=Ballot.Status.VOID).count() == 0
    assert Decision.objects.count() == 0


def test_the_committee_voids_selected_ballots_and_the_tally_drops_them(
    committee_client, committee_member, polled, open_batch, client
):
    response = confirm_action(
        committee_client,
        CHANGELIST,
        "void_selected",
        polled[:4],
        reason="同一 IP 在一分钟内投出 4 票",
        public_reason="同一地址集中投票",
    )

    assert response.status_code == 302
    decision = Decision.objects.get()
    assert decision.kind == Decision.Kind.VOID and decision.decided_by == committee_member
    assert set(DecisionBallot.objects.values_list("ballot_id", flat=True)) == {
        b.pk for b in polled[:4]
    }
    assert Ballot.objects.count() == 6 and Choice.objects.count() == 11  # nothing deleted
    Batch.objects.filter(pk=open_batch.pk).update(results_visibility="live")
    results = client.get("/results/").context["results"]
    votes = {s.case.number: s.votes for s in results.candidates}
    assert votes[31] == 0 and votes[32] == 1 and votes[33] == 2
    receipt = client.get(f"/receipt/{polled[0].receipt}/").content.decode()
    assert "已作废" in receipt and "同一地址集中投票" in receipt


def test_restoring_is_a_new_decision(committee_client, polled):
    confirm_action(committee_client, CHANGELIST, "void_selected", polled[:2], reason="误判前的作废")

    confirm_action(
        committee_client, CHANGELIST, "restore_selected", polled[:2], reason="复核后恢复"
    )

    assert list(Decision.objects.order_by("pk").values_list("kind", flat=True)) == [
        "void",
        "restore",
    ]
    assert Ballot.objects.filter(status=Ballot.Status.VALID).count() == 6
    assert Ballot.objects.get(pk=polled[0].pk).void_reason_public == ""


def test_voiding_twice_changes_only_still_valid_ballots(committee_client, polled):
    confirm_action(committee_client, CHANGELIST, "void_selected", polled[:2], reason="第一次作废")
    confirm_action(committee_client, CHANGELIST, "void_selected", polled[:4], reason="第二次作废")

    second = Decision.objects.order_by("pk").last()
    assert DecisionBallot.objects.filter(decision=second).count() == 2


def test_voiding_a_network_slice_in_a_time_range(committee_client, open_batch):
    start = timezone.now().replace(microsecond=0)
    inside = [make_ballot(open_batch, [31], ip=f"203.0.113.{i}", when=start) for i in (1, 2)]
    make_ballot(open_batch, [31], ip="203.0.113.3", when=start + timedelta(hours=2))
    make_ballot(open_batch, [31], ip="198.51.100.3", when=start)
    form = {
        "subnet": "203.0.113.0/24",
        "start": timezone.localtime(start).strftime("%Y-%m-%d %H:%M"),
        "end": timezone.localtime(start + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M"),
        "reason": "凌晨同一网段集中投票",
    }
    url = "/admin/ballots/ballot/void-slice/"

    preview = committee_client.post(url, form)
    done = committee_client.post(url, {**form, "confirm": "1"})

    assert preview.context["preview"] == 2
    assert done.status_code == 302
    assert {b.pk for b in Ballot.objects.filter(status="void")} == {b.pk for b in inside}
    assert Decision.objects.get().scope["network"] == "203.0.113.0/24"


@pytest.mark.parametrize("typed", ["::ffff:203.0.113.0/120", "::ffff:203.0.113.2"])
def test_a_slice_typed_as_gunicorn_on_ipv6_logs_it_finds_the_ipv4_ballots(
    committee_client, open_batch, typed
):
    """gunicorn on [::] writes IPv4 peers as ::ffff:a.b.c.d in its access log; the
    site keeps them as IPv4."""
    start = timezone.now().replace(microsecond=0)
    for host in (1, 2):
        make_ballot(open_batch, [31], ip=f"203.0.113.{host}", when=start)
    form = {
        "subnet": typed,
        "start": timezone.localtime(start).strftime("%Y-%m-%d %H:%M"),
        "end": timezone.localtime(start + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M"),
        "reason": "凌晨同一网段集中投票",
    }

    preview = committee_client.post("/admin/ballots/ballot/void-slice/", form)

    assert preview.context["preview"] == (2 if typed.endswith("/120") else 1)


def test_a_bad_slice_is_refused_with_a_message(committee_client, open_batch):
    response = committee_client.post(
        "/admin/ballots/ballot/void-slice/",
        {
            "subnet": "not-an-ip",
            "start": "2026-12-04 10:00",
            "end": "2026-12-04 09:00",
            "reason": "x",
        },
    )

    assert response.status_code == 200
    assert response.context["form"].errors
    assert Decision.objects.count() == 0


# --- Disqualifying and reinstating ---------------------------------------------------


def disqualify(client, case, **overrides):
    data = {
        "reason": "监测发现脚本刷票，证据见快照",
        "title": f"关于取消{case.display_number}号案例推选资格的公告",
        "body": "经组委会核查，该案例在网络投票中存在刷票行为。\n\n根据活动规则，取消其推选资格。",
    }
    return confirm_action(client, CASES, "disqualify", [case], **{**data, **overrides})


def test_disqualifying_publishes_an_announcement_and_withdraws_the_case(
    committee_client, polled, open_batch, client, clock
):
    case = Case.objects.get(number=31)

    disqualify(committee_client, case)

    case.refresh_from_db()
    assert case.status == Case.Status.DISQUALIFIED
    announcement = Announcement.objects.get()
    assert announcement.case == case and announcement.decision.kind == "disqualify"
    listing = client.get("/announcements/").content.decode()
    assert announcement.title in listing
    page = client.get(announcement.get_absolute_url()).content.decode()
    assert "存在刷票行为" in page and 'href="/cases/031/"' in page
    assert "该案例已被取消推选资格" in client.get("/cases/031/").content.decode()
    assert announcement.title in client.get("/").content.decode()


def test_a_disqualified_case_is_off_the_ballot_and_ranked_apart_but_other_votes_count(
    committee_client, polled, open_batch, client
):
    disqualify(committee_client, Case.objects.get(number=31))
    Batch.objects.filter(pk=open_batch.pk).update(results_visibility="live")

    results = client.get("/results/").context["results"]

    assert [s.case.number for s in results.disqualified] == [31]
    votes = {s.case.number: s.votes for s in results.candidates}
    assert votes[32] == 5  # the ballots that also chose 031 still count for 032
    assert Ballot.objects.filter(status="valid").count() == 6


def test_disqualifying_needs_the_announcement_text(committee_client, polled):
    response = disqualify(committee_client, Case.objects.get(number=31), body="")

    assert response.status_code == 200
    assert Case.objects.get(number=31).status == Case.Status.CANDIDATE
    assert Announcement.objects.count() == 0


def test_one_case_per_disqualification(committee_client, polled):
    cases = list(Case.objects.filter(number__in=[31, 32]))

    run_action(committee_client, CASES, "disqualify", cases)

    assert not Case.objects.filter(status=Case.Status.DISQUALIFIED).exists()


def test_reinstating_is_a_decision_with_its_own_announcement(committee_client, polled, voter):
    case = Case.objects.get(number=31)
    disqualify(committee_client, case)

    confirm_action(
        committee_client,
        CASES,
        "reinstate",
        [case],
        reason="复核后确认为误判",
        title="关于恢复031号案例推选资格的公告",
        body="经复核，恢复该案例的推选资格。",
    )

    assert Case.objects.get(number=31).status == Case.Status.CANDIDATE
    assert Announcement.objects.count() == 2
    assert 'value="031"' in voter.get("/vote/").content.decode()


def test_editors_cannot_disqualify(client, editor, polled):
    client.force_login(editor)

    disqualify(client, Case.objects.get(number=31))

    assert Case.objects.get(number=31).status == Case.Status.CANDIDATE


# --- The audit trail ---------------------------------------------------------------------


def test_decisions_can_be_read_but_never_edited_or_deleted(committee_client, admin_client, polled):
    confirm_action(committee_client, CHANGELIST, "void_selected", polled[:1], reason="测试作废理由")
    decision = Decision.objects.get()

    listing = committee_client.get("/admin/ballots/decision/").content.decode()
    change = admin_client.get(f"/admin/ballots/decision/{decision.pk}/change/")
    delete = admin_client.post(f"/admin/ballots/decision/{decision.pk}/delete/", {"post": "yes"})

    assert "测试作废理由" in listing and "committee" in listing
    assert not change.context["has_change_permission"]
    assert delete.status_code == 403
    assert Decision.objects.count() == 1


def test_cases_and_batches_cannot_be_deleted_in_the_admin(admin_client, open_batch):
    case = Case.objects.get(number=31)

    assert admin_client.post(f"{CASES}{case.pk}/delete/", {"post": "yes"}).status_code == 403
    assert (
        admin_client.post(f"{BATCHES}{open_batch.pk}/delete/", {"post": "yes"}).status_code == 403
    )


# --- Results, the final list, exports ------------------------------------------------------


def test_publishing_results_is_a_decision_that_shows_the_ranking(committee_client, polled, client):
    assert "投票进行中" in client.get("/results/").content.decode()
    batch = polled[0].batch

    confirm_action(
        committee_client, BATCHES, "publish_results", [batch], reason="投票结束，公布结果"
    )

    assert Decision.objects.get().kind == "publish_results"
    assert client.get("/results/").context["results"].candidates[0].case.number in (31, 32)


def test_the_final_list_scores_selection_and_publication(committee_client, polled, client):
    batch = polled[0].batch
    case = Case.objects.get(number=33)
    committee_client.post(
        "/admin/ballots/expertreview/add/",
        {"case": case.pk, "score": "92.5", "notes": "治理成效突出"},
    )
    assert ExpertReview.objects.get().score == 92.5
    assert "尚未公布" in client.get("/selected/").content.decode()

    confirm_action(committee_client, CASES, "select", [case], reason="网络投票与专家评审综合")
    confirm_action(committee_client, BATCHES, "publish_selected", [batch], reason="公布入选名单")

    page = client.get("/selected/").content.decode()
    assert "033" in page and case.title in page
    assert "031" not in page.split('<ol class="case-list">')[1].split("</ol>")[0]
    assert Case.objects.get(number=33).status == Case.Status.SELECTED


def test_the_selected_list_cannot_change_after_publication(committee_client, polled):
    batch = polled[0].batch
    confirm_action(
        committee_client, CASES, "select", [Case.objects.get(number=33)], reason="综合评定"
    )
    confirm_action(committee_client, BATCHES, "publish_selected", [batch], reason="公布入选名单")

    confirm_action(
        committee_client, CASES, "select", [Case.objects.get(number=32)], reason="追加入选"
    )

    assert Case.objects.get(number=32).status == Case.Status.CANDIDATE


def test_publishing_an_empty_selected_list_is_refused(committee_client, polled):
    batch = polled[0].batch

    confirm_action(committee_client, BATCHES, "publish_selected", [batch], reason="公布入选名单")

    assert Batch.objects.get(pk=batch.pk).selected_published_at is None


def test_the_votes_export_is_excel_friendly_csv(committee_client, polled):
    Ballot.objects.filter(pk=polled[0].pk).update(status="void")

    response = run_action(committee_client, BATCHES, "export_votes", [polled[0].batch])

    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows[0] == ["批次", "编号", "案例", "省份", "状态", "有效票", "作废票"]
    row_031 = next(r for r in rows if r[1] == "031")
    assert row_031[5:] == ["3", "1"]


def test_the_timeline_export_counts_ballots_per_day(committee_client, polled):
    response = run_action(committee_client, BATCHES, "export_timeline", [polled[0].batch])

    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8").lstrip("\ufeff"))))
    assert rows[1][2:] == ["6", "6", "0"]


def test_editors_cannot_export_votes(client, editor, polled):
    client.force_login(editor)

    response = run_action(client, BATCHES, "export_votes", [polled[0].batch])

    assert response.get("Content-Type", "").startswith("text/html")
