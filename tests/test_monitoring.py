"""The committee's journey on simulated traffic: the 刷票监测 page shows the attacked
cases first with their evidence; voiding a suspect slice keeps a snapshot; a
disqualification reaches residents; every ballot is still in the database."""

import re

import pytest
from django.utils.html import escape

from ballots import snapshots
from ballots.detection import DETECTOR_VERSION
from ballots.models import Announcement, Ballot, Decision
from cases.models import Case
from tests.conftest import SIMULATION_DAYS, SIMULATION_END
from tools.simulation import simulate

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_reports_memo(monkeypatch):
    """`snapshots.run_reports` remembers a run's reports by primary key; SQLite hands a
    rolled-back test's key to the next test's run, which would then show the old poll."""
    monkeypatch.setattr(snapshots, "_reports_memo", {})


@pytest.fixture
def attacked(simulation_batch):
    scenario = simulate(
        simulation_batch, seed=11, ballots=1_500, days=SIMULATION_DAYS, end=SIMULATION_END
    )
    return simulation_batch, scenario


def monitoring_url(batch) -> str:
    return f"/admin/cases/batch/{batch.pk}/monitoring/"


def shown_run(client, batch) -> str:
    """The detector run the page shows; a void form names it."""
    return str(client.get(monitoring_url(batch)).context["run"].pk)


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
    assert "证据类别" in html and "主要 IP" in html and "相邻选票间隔分布" in html
    assert "共有特征" in html
    assert not re.search(r"<script(?![^>]*\ssrc=)", html)  # no inline script (CSP)
    # The night farm's evidence: its burst hours in red on the hourly chart.
    farm = committee_client.get(monitoring_url(batch), {"case": f"{scenario.targets['farm']:03d}"})
    html = farm.content.decode()
    assert "<svg" in html and 'class="bar-suspect"' in html


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
            "run": str(page.context["run"].pk),
            "reason": "同一 IP 机械间隔投票",
            "public_reason": "",
        },
    )

    assert response.status_code == 302
    decision = Decision.objects.get()
    assert decision.kind == "void" and decision.detector_version == DETECTOR_VERSION
    assert decision.evidence["report"]["case"] == target
    assert decision.evidence["detection_run"] == page.context["run"].pk
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
        monitoring_url(batch),
        {
            "case": f"{target:03d}",
            "slice": "0",
            "run": shown_run(committee_client, batch),
            "reason": "",
        },
    )

    assert not Ballot.objects.filter(status="void").exists()
    assert Decision.objects.count() == 0


def test_the_whole_journey_ends_with_a_public_announcement(committee_client, client, attacked):
    batch, scenario = attacked
    target = Case.objects.get(number=scenario.targets["farm"])
    committee_client.post(
        monitoring_url(batch),
        {
            "case": f"{target.number:03d}",
            "slice": "0",
            "run": shown_run(committee_client, batch),
            "reason": "夜间集中新关注账号投票",
        },
    )
    assert Decision.objects.get().kind == "void"

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


# --- Stored runs: the page on a large poll -----------------------------------------


def test_on_a_large_poll_the_page_waits_for_the_scheduled_run(committee_client, attacked, settings):
    from django.core.management import call_command

    from ballots.models import DetectionRun

    batch, scenario = attacked
    settings.CASEVOTE_MONITORING_LIVE_LIMIT = 100  # the 1,500 simulated ballots are "large"

    before = committee_client.get(monitoring_url(batch))
    assert "尚无检测记录" in before.content.decode() and not DetectionRun.objects.exists()

    call_command("detect_brushing", "--batch", str(batch.number), "--store", verbosity=0)
    shown = committee_client.get(monitoring_url(batch))

    run = DetectionRun.objects.get()
    assert shown.context["run"] == run and run.ballots == scenario.total
    assert {r.case for r in shown.context["reports"] if r.flagged} == scenario.attacked_cases
    assert "此后没有新的选票或决定" in shown.content.decode()


def test_a_stale_run_is_shown_with_what_changed_since(committee_client, attacked, settings):
    from django.core.management import call_command

    from ballots.models import DetectionRun
    from tests.conftest import make_ballot

    batch, _ = attacked
    settings.CASEVOTE_MONITORING_LIVE_LIMIT = 100
    call_command("detect_brushing", "--batch", str(batch.number), "--store", verbosity=0)
    make_ballot(batch, [31])
    make_ballot(batch, [32])

    html = committee_client.get(monitoring_url(batch)).content.decode()

    assert "此后新增选票 2 张、决定 0 项，尚未检测" in html
    assert DetectionRun.objects.count() == 1  # not re-run in the request


def test_a_small_poll_is_re_run_when_ballots_arrive(committee_client, attacked):
    from ballots.models import DetectionRun
    from tests.conftest import make_ballot

    batch, scenario = attacked
    first = committee_client.get(monitoring_url(batch)).context["run"]
    make_ballot(batch, [31])

    second = committee_client.get(monitoring_url(batch)).context["run"]

    assert second.pk != first.pk and second.ballots == scenario.total + 1
    assert committee_client.get(monitoring_url(batch)).context["run"] == second
    assert DetectionRun.objects.count() == 2


@pytest.mark.parametrize("run", ["", "abc", "999999"])
def test_a_void_naming_no_run_of_this_batch_changes_nothing(committee_client, attacked, run):
    batch, scenario = attacked
    target = scenario.targets["script"]

    response = committee_client.post(
        monitoring_url(batch),
        {"case": f"{target:03d}", "slice": "0", "run": run, "reason": "同一 IP 机械间隔投票"},
    )

    assert response.status_code == 404
    assert not Ballot.objects.filter(status="void").exists() and not Decision.objects.exists()


def test_stored_runs_are_listed_for_the_committee_only(committee_client, editor, attacked):
    from django.test import Client

    batch, _ = attacked
    committee_client.get(monitoring_url(batch))  # stores a run
    editor_client = Client()
    editor_client.force_login(editor)

    assert committee_client.get("/admin/ballots/detectionrun/").status_code == 200
    assert editor_client.get("/admin/ballots/detectionrun/").status_code == 403


def test_the_evidence_page_shows_voters_who_unfollowed_within_hours(
    committee_client, simulation_batch
):
    scenario = simulate(
        simulation_batch,
        seed=11,
        attacks=["churn"],
        ballots=1_500,
        days=SIMULATION_DAYS,
        end=SIMULATION_END,
    )
    target = scenario.targets["churn"]

    response = committee_client.get(monitoring_url(simulation_batch), {"case": f"{target:03d}"})

    chosen = response.context["chosen"]
    assert chosen.case == target and chosen.flagged
    html = response.content.decode()
    assert "投票后 24 小时内取消关注占比" in html  # the identity family's row
    reason = next(r for r in chosen.reasons if "取消了关注" in r)
    assert reason.startswith("身份（强）：投完就取消关注：") and escape(reason) in html


def test_the_evidence_page_shows_the_traits_a_spread_out_farm_shares(
    committee_client, simulation_batch
):
    """Hundreds of home networks at ordinary hours: the page says what the farm's
    ballots share, observed against what the rest of the poll predicts."""
    scenario = simulate(
        simulation_batch,
        seed=12,
        attacks=["residential"],
        traps=[],
        ballots=1_500,
        days=SIMULATION_DAYS,
        end=SIMULATION_END,
    )
    target = scenario.targets["residential"]

    response = committee_client.get(monitoring_url(simulation_batch), {"case": f"{target:03d}"})

    chosen = response.context["chosen"]
    assert chosen.case == target and chosen.flagged
    assert chosen.slices[0].kind == "traits"
    html = response.content.decode()
    assert 'id="traits"' in html and "按其余选票应有" in html
    for trait, values, observed, _ in chosen.traits:
        assert escape(trait) in html and escape(values) in html and f"<td>{observed}</td>" in html
    assert escape(chosen.reasons[0]) in html and chosen.reasons[0].startswith("共有特征：")
