"""anonymise_ballots: personal data goes after retention; the evidence stays."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from ballots.models import Ballot, Choice, Follower, FollowEvent
from tests.conftest import CLOSES, make_ballot

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command("anonymise_ballots", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def closed_poll(open_batch, clock):
    ballots = [
        make_ballot(open_batch, [31, 32], ip="203.0.113.9"),
        make_ballot(open_batch, [33], ip="203.0.113.10"),
    ]
    Ballot.objects.filter(pk=ballots[0].pk).update(device_id="a" * 32)
    Ballot.objects.filter(pk=ballots[1].pk).update(device_id="a" * 32)
    return ballots


def test_it_refuses_before_the_retention_period_ends(closed_poll, clock, settings):
    clock.move_to(CLOSES + timedelta(days=settings.CASEVOTE_RETENTION_DAYS) - timedelta(seconds=1))

    with pytest.raises(CommandError, match="现在还不能匿名化"):
        run("--batch", "2")

    assert Ballot.objects.filter(ip_address__isnull=False).count() == 2


def test_it_strips_personal_data_and_keeps_the_evidence(closed_poll, clock, settings):
    clock.move_to(CLOSES + timedelta(days=settings.CASEVOTE_RETENTION_DAYS))
    keys_before = set(Follower.objects.values_list("key", flat=True))

    output = run("--batch", "2")

    assert "已匿名化 2 张选票" in output
    ballots = list(Ballot.objects.all())
    assert all(b.ip_address is None and b.ip_network == "" for b in ballots)
    assert {b.ip_subnet for b in ballots} == {"203.0.113.0/24"}
    devices = {b.device_id for b in ballots}
    assert len(devices) == 1 and devices.pop().startswith("anon-")  # still countable
    assert not keys_before & set(Follower.objects.values_list("key", flat=True))
    assert Choice.objects.count() == 3 and Ballot.objects.count() == 2


def test_a_wechat_followers_pushed_events_lose_the_openid_too(closed_poll, clock, settings):
    follower = closed_poll[0].follower
    Follower.objects.filter(pk=follower.pk).update(backend="wechat", key="o-voter-openid")
    for kind in ("subscribe", "unsubscribe"):
        FollowEvent.objects.create(
            openid="o-voter-openid", kind=kind, created_at=CLOSES, received_at=CLOSES
        )
    FollowEvent.objects.create(
        openid="o-never-voted", kind="subscribe", created_at=CLOSES, received_at=CLOSES
    )
    clock.move_to(CLOSES + timedelta(days=settings.CASEVOTE_RETENTION_DAYS))

    run("--batch", "2")

    follower.refresh_from_db()
    assert follower.key.startswith("anon-")
    events = set(FollowEvent.objects.values_list("openid", flat=True))
    assert events == {follower.key, "o-never-voted"}  # still the follower's; others kept
    assert FollowEvent.objects.count() == 3


def test_running_it_again_changes_nothing(closed_poll, clock, settings):
    clock.move_to(CLOSES + timedelta(days=settings.CASEVOTE_RETENTION_DAYS))
    run("--batch", "2")
    devices = set(Ballot.objects.values_list("device_id", flat=True))

    output = run("--batch", "2")

    assert "已匿名化 0 张选票" in output and "0 个关注者" in output
    assert set(Ballot.objects.values_list("device_id", flat=True)) == devices


def test_dry_run_changes_nothing(closed_poll, clock, settings):
    clock.move_to(CLOSES + timedelta(days=settings.CASEVOTE_RETENTION_DAYS))

    output = run("--batch", "2", "--dry-run")

    assert "将匿名化 2 张选票" in output
    assert Ballot.objects.filter(ip_address__isnull=False).count() == 2


def test_it_refuses_an_unknown_batch(db):
    with pytest.raises(CommandError, match="没有第9批"):
        run("--batch", "9")


def test_stored_detector_runs_lose_their_addresses(closed_poll, clock, settings):
    from ballots.models import DetectionRun
    from ballots.snapshots import store_run

    store_run(closed_poll[0].batch)
    assert any(r["top_ips"] for r in DetectionRun.objects.get().reports)
    clock.move_to(CLOSES + timedelta(days=settings.CASEVOTE_RETENTION_DAYS))

    run("--batch", "2")

    reports = DetectionRun.objects.get().reports
    assert all(r["top_ips"] == [] for r in reports)
    assert any(r["top_subnets"] for r in reports) and "203.0.113.9" not in str(reports)
