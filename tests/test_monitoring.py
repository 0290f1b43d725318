"""The committee's journey on simulated traffic: the 刷票监测 page shows the attacked
cases first with their evidence; voiding a suspect slice keeps a snapshot; a
disqualification reaches residents; every ballot is still in the database."""

import re

import pytest

from ballots.models import Announcement, Ballot, Decision
from ballots.simulation import simulate
from cases.models import Case
from tests.conftest import SIMULATION_DAYS, SIMULATION_END

pytestmark = pytest.mark.django_db


@pytest.fixture
def attacked(simulation_batch):
    scenario = simulate(
        simulation_batch, seed=11, ballots=1_500, days=SIMULATION_DAYS, end=SIMULATION_END
    )
    return simulation_batch, scenario


def monitoring_url(batch) -> str:
    return f"/admin/cases/batch/{batch.pk}/monitoring/"


def test_the_monitoring_page_lists_attacked_cases_first_with_their_evidence(
    committee_client, attacked
):
    batch, scenario = attacked

    response = committee_client.get(monitoring_url(batch))

    assert response.status_code == 200
    reports = response.context["reports"]
    flagged = [r.case for r in reports if r.flagged]
    assert set(flagged) == scenario.attacked_cases
    assert {r.case for r in reports[: len(flagged)]} == scenario.attacked_cases
    html = response.content.decode()
    assert "<svg" in html and 'class="bar-suspect"' in html
    assert "证据类别" in html and "主要 IP" in html and "相邻选票间隔分布" in html
    assert not re.search(r"<script(?![^>]*\ssrc=)", html)  # no inline script (CSP)


def test_each_case_has_its_evidence_page(committee_client, attacked):
    batch, scenario = attacked
    target = scenario.targets["script"]

    response = committee_client.get(monitoring_url(batch), {"case": f"{target:03d}"})

    chosen = response.context["chosen"]
    assert chosen.case == target and chosen.flagged
    assert chosen.slices and chosen.reasons
    assert f"作废这 {len(chosen.slices[0].ballot_ids)} 张选票" in response.content.decode()


def test_voiding_a_suspect_slice_records_the_evidence_snapshot(committee_client, attacked):
    batch, scenario = attacked
    target = scenario.targets["script"]
    before = Ballot.objects.count()
    page = committee_client.get(monitoring_url(batch), {"case": f"{target:03d}"})
    slice_ids = set(page.context["chosen"].slices[0].ballot_ids)

    response = committee_client.post(
        monitoring_url(batch),
        {
            "case": f"{target:03d}",
            "slice": "0",
            "reason": "同一 IP 机械间隔投票",
            "public_reason": "",
        },
    )

    assert response.status_code == 302
    decision = Decision.objects.get()
    assert decision.kind == "void" and decision.detector_version == "1.0"
    assert decision.evidence["report"]["case"] == target
    voided = set(Ballot.objects.filter(status="void").values_list("pk", flat=True))
    assert voided == slice_ids
    assert voided <= set(scenario.ballot_ids["script"]) | set(scenario.ballot_ids.get("drip", []))
    assert Ballot.objects.count() == before  # nothing deleted
    after = committee_client.get(monitoring_url(batch), {"case": f"{target:03d}"})
    assert after.context["chosen"].total < page.context["chosen"].total


def test_voiding_without_a_reason_changes_nothing(committee_client, attacked):
    batch, scenario = attacked
    target = scenario.targets["script"]

    committee_client.post(
        monitoring_url(batch), {"case": f"{target:03d}", "slice": "0", "reason": ""}
    )

    assert not Ballot.objects.filter(status="void").exists()
    assert Decision.objects.count() == 0


def test_the_whole_journey_ends_with_a_public_announcement(committee_client, client, attacked):
    batch, scenario = attacked
    target = Case.objects.get(number=scenario.targets["farm"])
    committee_client.post(
        monitoring_url(batch),
        {"case": f"{target.number:03d}", "slice": "0", "reason": "夜间集中新关注账号投票"},
    )

    committee_client.post(
        "/admin/cases/case/",
        {
            "action": "disqualify",
            "_selected_action": [target.pk],
            "confirm": "1",
            "reason": "监测证据确凿",
            "title": f"关于取消{target.display_number}号案例推选资格的公告",
            "body": "经组委会核查，该案例存在组织刷票行为，取消其推选资格。",
        },
    )

    assert Case.objects.get(pk=target.pk).status == Case.Status.DISQUALIFIED
    assert Announcement.objects.get().case == target
    assert target.title in client.get("/announcements/").content.decode()
    assert scenario.total == Ballot.objects.count()


def test_editors_and_outsiders_cannot_open_the_monitoring_page(client, editor, attacked):
    batch, _ = attacked
    client.force_login(editor)

    assert client.get(monitoring_url(batch)).status_code == 403
