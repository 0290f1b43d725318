"""Brushing caught while it happens: `watch_brushing` stores a run per batch being voted
on and tells the committee, once, when a case's verdict rises — by e-mail and through a
WeChat Work group robot — retrying a channel that fails.

The attack is real: an honest simulated poll first (a run: every case clean), then a
scripted attack on one case (the next run flags it)."""

import logging
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command

from ballots.detection import CLEAN, CO_SELECTED, FLAGGED, WATCH
from ballots.models import Alert, DetectionRun
from cases.models import Case
from casevote.sharedcache import lock
from tests.conftest import SIMULATION_DAYS, SIMULATION_END
from tests.fake_alert_channels import FakeSMTP, FakeWeCom
from tools.simulation import simulate

pytestmark = pytest.mark.django_db

ORIGIN = "https://vote.example.cn"
NOW = SIMULATION_END  # inside the simulation batch's voting window


@pytest.fixture
def smtp():
    with FakeSMTP() as fake:
        yield fake


@pytest.fixture
def wecom():
    with FakeWeCom() as fake:
        yield fake


@pytest.fixture
def channels(settings, smtp, wecom):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": smtp.port, "timeout": 5},
        }
    }
    settings.CASEVOTE_ALERT_EMAILS = ["committee@example.cn", "chair@example.cn"]
    settings.CASEVOTE_ALERT_WECOM_WEBHOOK = wecom.url
    settings.CASEVOTE_PUBLIC_ORIGIN = ORIGIN
    settings.CASEVOTE_ALERT_MAX_ATTEMPTS = 3
    return smtp, wecom


@pytest.fixture
def honest(simulation_batch):
    simulate(
        simulation_batch,
        seed=1,
        attacks=[],
        traps=[],
        ballots=800,
        days=SIMULATION_DAYS,
        end=SIMULATION_END,
    )
    return simulation_batch


def attack(batch) -> int:
    """A scripted attack on top of the honest poll; returns the case it boosts."""
    scenario = simulate(
        batch, seed=2, attacks=["script"], traps=[], ballots=1, days=SIMULATION_DAYS,
        end=SIMULATION_END,
    )  # fmt: skip
    return scenario.targets["script"]


def watch() -> str:
    out = StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("watch_brushing", "--once", stdout=out)
    return out.getvalue()


def verdicts(run: DetectionRun) -> dict[int, str]:
    return {r["case"]: r["verdict"] for r in run.reports}


def test_it_alerts_once_by_email_and_wecom_when_an_attack_is_flagged(honest, channels):
    smtp, wecom = channels
    watch()
    assert set(verdicts(DetectionRun.objects.get()).values()) <= {CLEAN, CO_SELECTED}
    assert smtp.messages == [] and wecom.bodies == []

    target = attack(honest)
    output = watch()

    run = DetectionRun.objects.order_by("-pk").first()
    assert verdicts(run)[target] == FLAGGED
    risen = {c for c, v in verdicts(run).items() if v in (FLAGGED, WATCH)}
    assert "新提醒" in output
    assert risen == {target}
    assert len(smtp.messages) == len(wecom.bodies) == 1
    report = next(r for r in run.reports if r["case"] == target)
    title = Case.objects.get(batch=honest, number=target).title
    link = f"{ORIGIN}/admin/cases/batch/{honest.pk}/monitoring/?case={target:03d}"

    (mail,) = [b for b in smtp.bodies() if f"案例{target:03d}" in b]
    assert title in mail and "正常 → 标记" in mail and link in mail
    assert all(reason in mail for reason in report["reasons"][:3])
    assert sorted(smtp.messages[0]["to"]) == ["chair@example.cn", "committee@example.cn"]

    (robot,) = [b for b in wecom.bodies if f"案例{target:03d}" in b["markdown"]["content"]]
    assert robot["msgtype"] == "markdown"
    content = robot["markdown"]["content"]
    assert title in content and "标记" in content and link in content
    assert report["reasons"][0][:40] in content
    assert len(content.encode()) <= 4096

    watch()  # the same state again: nothing new
    assert len(smtp.messages) == len(wecom.bodies) == 1
    assert DetectionRun.objects.count() == 3
    alert = Alert.objects.get(case_number=target)
    assert (alert.email_state, alert.wecom_state) == ("sent", "sent")


@pytest.mark.parametrize(
    "failure", [{"status": 500}, {"answer": {"errcode": 93000, "errmsg": "invalid webhook"}}]
)
def test_it_retries_a_failing_webhook_at_the_next_round_and_still_mails(
    honest, channels, caplog, failure
):
    smtp, wecom = channels
    watch()
    target = attack(honest)
    for name, value in failure.items():
        setattr(wecom, name, value)

    with caplog.at_level(logging.WARNING, logger="ballots.alerts"):
        watch()

    assert any(f"案例{target:03d}" in b for b in smtp.bodies())
    assert wecom.bodies == []
    assert "not delivered by wecom, attempt 1/3" in caplog.text
    alert = Alert.objects.get(case_number=target)
    assert (alert.email_state, alert.wecom_state, alert.wecom_attempts) == ("sent", "pending", 1)
    assert alert.wecom_error

    wecom.status, wecom.answer = 200, {"errcode": 0, "errmsg": "ok"}
    mails = len(smtp.messages)
    watch()

    assert any(f"案例{target:03d}" in b["markdown"]["content"] for b in wecom.bodies)
    assert len(smtp.messages) == mails  # the e-mail is not sent twice
    alert.refresh_from_db()
    assert (alert.wecom_state, alert.wecom_attempts, alert.wecom_error) == ("sent", 2, "")


def test_it_gives_up_after_the_last_attempt(honest, channels, caplog):
    _, wecom = channels
    watch()
    target = attack(honest)
    wecom.status = 500
    with caplog.at_level(logging.WARNING, logger="ballots.alerts"):
        for _ in range(4):
            watch()
    alert = Alert.objects.get(case_number=target)
    assert (alert.wecom_state, alert.wecom_attempts) == ("gave_up", 3)
    assert "attempt 3/3" in caplog.text and "giving up" in caplog.text


def test_it_skips_the_round_when_another_node_holds_the_lock(honest, channels):
    attack(honest)
    with lock("watch-brushing", wait=0, hold=60) as got:
        assert got
        output = watch()
    assert output.strip() == "另一节点正在监测，本轮跳过。"
    assert DetectionRun.objects.count() == 0 and Alert.objects.count() == 0


def test_it_watches_only_batches_being_voted_on(honest, channels):
    honest.voting_closes_at = NOW - timedelta(days=1, seconds=1)
    honest.save()
    output = watch()
    assert output == "" and DetectionRun.objects.count() == 0


def test_the_committee_reads_alerts_in_the_admin_and_follows_the_link(
    honest, channels, client, committee_member, editor
):
    smtp, _ = channels
    watch()
    target = attack(honest)
    watch()
    client.force_login(committee_member)

    listing = client.get("/admin/ballots/alert/")
    assert listing.status_code == 200
    assert f"{target:03d}" in listing.content.decode() and "刷票提醒" in listing.content.decode()
    alert = Alert.objects.get(case_number=target)
    detail = client.get(f"/admin/ballots/alert/{alert.pk}/change/")
    assert detail.status_code == 200 and b'name="_save"' not in detail.content
    link = next(line for line in smtp.bodies()[0].splitlines() if line.startswith("证据："))
    evidence = client.get(link.removeprefix("证据：").removeprefix(ORIGIN))
    assert evidence.status_code == 200
    assert Case.objects.get(batch=honest, number=target).title in evidence.content.decode()

    client.force_login(editor)
    assert client.get("/admin/ballots/alert/").status_code == 403


def test_sigterm_stops_the_watcher_between_rounds(tmp_path):
    """The systemd unit's stop: SIGTERM while it waits for its next round, exit 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEVOTE_")} | {
        "DEBUG": "0",
        "SECRET_KEY": "x" * 50,
        "CASEVOTE_DEMO_GATE": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'watch.sqlite3'}",
        "CASEVOTE_SHARED_CACHE_DIR": str(tmp_path / "shared"),
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v", "0"], cwd=settings.BASE_DIR, env=env, check=True)  # noqa: S603
    watcher = subprocess.Popen(  # noqa: S603 (this interpreter, our own arguments)
        [*manage, "watch_brushing", "--every", "3600"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(3)  # past start-up and the first round, into the hour's wait
    watcher.send_signal(signal.SIGTERM)
    out, err = watcher.communicate(timeout=30)

    assert watcher.returncode == 0, err
    assert out.strip().endswith("刷票监测已停止。")
