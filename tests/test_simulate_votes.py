"""manage.py simulate_votes: a synthetic, back-dated poll that obeys every ballot rule,
the same for the same seed, and never mixed into real ballots by accident."""

import re
from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone

from ballots.evidence import load_records
from ballots.models import CAMPAIGN_PERIOD, RECEIPT_ALPHABET, Ballot, Choice, Follower
from cases.models import Batch
from tests.conftest import SHANGHAI, SIMULATION_DAYS, SIMULATION_END, make_ballot
from tools.simulation import (
    SIMULATED_BACKEND,
    Offer,
    SimulationError,
    offer_for,
    simulate,
    simulate_records,
)

pytestmark = pytest.mark.django_db

END = SIMULATION_END.strftime("%Y-%m-%d %H:%M")
SMALL = ["--ballots", "500", "--days", str(SIMULATION_DAYS), "--end", END]


def run(*args) -> str:
    out = StringIO()
    call_command("simulate_votes", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def fingerprint(batch) -> list[tuple]:
    """What a rerun must reproduce: the first ballots' receipts, addresses, times, choices."""
    ballots = Ballot.objects.filter(batch=batch).order_by("pk")[:50]
    return [
        (
            b.receipt,
            b.ip_address,
            b.user_agent,
            b.cast_at,
            b.form_served_at,
            b.follower.key,
            tuple(b.choices.order_by("case__number").values_list("case__number", flat=True)),
        )
        for b in ballots.select_related("follower")
    ]


def test_it_writes_a_poll_and_says_which_case_each_attack_targets(simulation_batch):
    output = run("--batch", "2", "--seed", "3", *SMALL)

    assert "第2批模拟投票（种子 3）：2026年11月15日 00:00 至 2026年11月20日 00:00" in output
    for kind in ("honest", "village", "viral", "script", "proxy", "farm", "drip"):
        assert re.search(rf"^  {kind}\s+\d+ ", output, re.MULTILINE), kind
    targets = re.findall(r"→ 案例 (\d{3})", output)
    assert len(targets) == 6 and len(set(targets)) == 6  # village, viral and four attacks
    assert "陪投" in output
    total = int(re.search(r"共 (\d+) 张选票", output).group(1))
    assert Ballot.objects.filter(batch=simulation_batch).count() == total


def test_it_is_the_same_poll_for_the_same_seed(simulation_batch):
    runs = []
    for _ in range(2):
        with transaction.atomic():
            output = run("--batch", "2", "--seed", "5", *SMALL)
            runs.append((output, fingerprint(simulation_batch)))
            transaction.set_rollback(True)

    assert runs[0] == runs[1]
    assert len(runs[0][1]) == 50

    run("--batch", "2", "--seed", "6", *SMALL)
    assert fingerprint(simulation_batch) != runs[0][1]


def test_it_obeys_every_ballot_rule(simulation_batch, settings):
    scenario = simulate(
        simulation_batch, seed=8, ballots=800, days=SIMULATION_DAYS, end=SIMULATION_END
    )

    ballots = Ballot.objects.filter(batch=simulation_batch)
    assert ballots.count() == scenario.total == sum(scenario.counts.values())
    per_period = ballots.values("follower", "period").annotate(n=Count("id"))
    assert max(row["n"] for row in per_period) == 1
    voters = Follower.objects.filter(ballots__batch=simulation_batch).distinct()
    assert set(voters.values_list("backend", flat=True)) == {SIMULATED_BACKEND}
    assert Follower.objects.filter(backend=SIMULATED_BACKEND).count() == scenario.followers
    now = timezone.now()
    for ballot in ballots.select_related("follower").iterator():
        local = ballot.cast_at.astimezone(SHANGHAI)
        assert scenario.start <= ballot.cast_at < scenario.end < now  # back-dated
        assert ballot.cast_day == local.date()
        assert ballot.period == local.date().isoformat()
        dwell = (ballot.cast_at - ballot.form_served_at).total_seconds()
        assert settings.CASEVOTE_MIN_DWELL_SECONDS <= dwell <= settings.CASEVOTE_FORM_MAX_AGE
        assert ballot.follower.followed_at < ballot.form_served_at
        assert ballot.ip_network and ballot.ip_subnet and ballot.user_agent and ballot.device_id
        assert set(ballot.receipt) <= set(RECEIPT_ALPHABET)
    assert ballots.values("receipt").distinct().count() == ballots.count()
    assert ballots.values("form_nonce").distinct().count() == ballots.count()
    choices = Counter(Choice.objects.filter(ballot__batch=simulation_batch).values_list("ballot"))
    assert len(choices) == ballots.count()


def test_it_keeps_to_one_ballot_per_follower_in_a_once_only_batch(simulation_batch):
    simulation_batch.frequency = Batch.Frequency.ONCE
    simulation_batch.save()

    simulate(simulation_batch, seed=9, ballots=500, days=SIMULATION_DAYS, end=SIMULATION_END)

    ballots = Ballot.objects.filter(batch=simulation_batch)
    assert set(ballots.values_list("period", flat=True)) == {CAMPAIGN_PERIOD}
    assert ballots.values("follower").distinct().count() == ballots.count()


def test_it_writes_only_the_attacks_asked_for(simulation_batch):
    output = run("--batch", "2", "--seed", "4", "--attacks", "script,drip", *SMALL)

    assert "script" in output and "drip" in output
    assert "proxy" not in output and "farm" not in output
    run("--batch", "2", "--seed", "10", "--attacks", "none", *SMALL)
    keys = Follower.objects.filter(key__startswith="b2s10-").values_list("key", flat=True)
    assert keys and not any(re.search(r"-(script|proxy|farm|drip)-", key) for key in keys)


def test_it_writes_the_traps_asked_for_and_says_which_case_each_plays(simulation_batch):
    output = run(
        "--batch", "2", "--seed", "21", "--attacks", "residential,small,stealth",
        "--traps", "workplace,loyal,province,campus", *SMALL,
    )  # fmt: skip

    for kind in ("residential", "small", "stealth", "workplace", "loyal", "province", "campus"):
        assert re.search(rf"^  {kind}\s+\d+ .*→ 案例 \d{{3}}", output, re.MULTILINE), kind
    for kind in ("village", "viral", "script", "proxy", "farm", "drip", "churn"):
        assert kind not in output
    assert re.search(r"^  residential .*（陪投 \d{3}、\d{3}）$", output, re.MULTILINE)
    total = int(re.search(r"共 (\d+) 张选票", output).group(1))
    assert Ballot.objects.filter(batch=simulation_batch).count() == total

    run("--batch", "2", "--seed", "22", "--attacks", "none", "--traps", "none", *SMALL)
    keys = Follower.objects.filter(key__startswith="b2s22-").values_list("key", flat=True)
    assert keys and all(key.startswith("b2s22-honest-") for key in keys)


def test_it_writes_the_churn_attack_only_when_asked_and_its_voters_unfollow(simulation_batch):
    default = run("--batch", "2", "--seed", "13", *SMALL)
    output = run("--batch", "2", "--seed", "14", "--attacks", "churn", *SMALL)

    assert "churn" not in default
    assert re.search(r"^  churn\s+\d+ ", output, re.MULTILINE)
    churn = Ballot.objects.filter(follower__key__startswith="b2s14-churn-").select_related(
        "follower"
    )
    lags = [
        (b.follower.unfollowed_at - b.cast_at).total_seconds()
        for b in churn
        if b.follower.unfollowed_at
    ]
    assert len(lags) >= 0.8 * churn.count()
    assert all(0 < lag <= 8 * 3600 for lag in lags)  # left within hours of voting


def test_a_few_honest_voters_unfollow_days_after_their_last_vote(simulation_batch):
    simulate(simulation_batch, seed=15, ballots=2_000, days=SIMULATION_DAYS, end=SIMULATION_END)

    honest = Follower.objects.filter(key__startswith="b2s15-honest-", ballots__isnull=False)
    voters = honest.distinct().count()
    left = honest.filter(unfollowed_at__isnull=False).annotate(last=Max("ballots__cast_at"))
    assert 0 < left.count() < 0.03 * voters
    assert all(f.last < f.unfollowed_at < SIMULATION_END for f in left)


def test_it_refuses_a_batch_with_real_ballots_unless_forced(simulation_batch):
    real = make_ballot(simulation_batch, [31], when=SIMULATION_END - timedelta(days=1))

    with pytest.raises(CommandError, match="已有真实选票.*--force"):
        run("--batch", "2", "--seed", "1", *SMALL)
    assert Ballot.objects.count() == 1

    run("--batch", "2", "--seed", "1", "--force", *SMALL)
    assert Ballot.objects.count() > 1
    real.refresh_from_db()
    assert real.status == Ballot.Status.VALID


def test_it_refuses_the_same_seed_twice_on_a_batch(simulation_batch):
    run("--batch", "2", "--seed", "2", *SMALL)
    written = Ballot.objects.count()

    with pytest.raises(CommandError, match="已经用种子 2 模拟过"):
        run("--batch", "2", "--seed", "2", *SMALL)
    assert Ballot.objects.count() == written


def test_it_refuses_to_write_ballots_faster_than_the_site_accepts(simulation_batch, settings):
    settings.CASEVOTE_MIN_DWELL_SECONDS = 3  # the script and the proxy pool read for ~2.1 s

    with pytest.raises(CommandError, match="CASEVOTE_MIN_DWELL_SECONDS"):
        run("--batch", "2", "--seed", "1", *SMALL)
    assert not Ballot.objects.exists()


def test_it_keeps_every_reader_within_the_forms_lifetime(simulation_batch, settings):
    settings.CASEVOTE_FORM_MAX_AGE = 60

    simulate(simulation_batch, seed=12, ballots=300, days=SIMULATION_DAYS, end=SIMULATION_END)

    dwells = [
        (cast - served).total_seconds()
        for cast, served in Ballot.objects.values_list("cast_at", "form_served_at")
    ]
    assert max(dwells) == 60  # the site would refuse a longer stay: the reader reloads


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch", "9", "--seed", "1"], "没有第9批"),
        (["--batch", "2", "--seed", "1", "--attacks", "script,bots"], "未知的攻击类型 'bots'"),
        (["--batch", "2", "--seed", "1", "--attacks", ","], "--attacks 为空"),
        (["--batch", "2", "--seed", "1", "--traps", "campus,beach"], "未知的陷阱类型 'beach'"),
        (["--batch", "2", "--seed", "1", "--traps", " , "], "--traps 为空"),
        (["--batch", "2", "--seed", "x"], "--seed 'x' 不是整数"),
        (["--batch", "2", "--seed", "-1"], "--seed 须在 0 到"),
        (["--batch", "2", "--seed", "1", "--days", "0"], "--days 须在 1 到 60 之间"),
        (["--batch", "2", "--seed", "1", "--ballots", "many"], "--ballots 'many' 不是整数"),
        (["--batch", "2", "--seed", "1", "--end", "明天"], "不是有效的时间"),
        (["--batch", "2", "--seed", "1", "--end", "2999-01-01 00:00"], "--end 不能晚于现在"),
    ],
)
def test_it_refuses_bad_arguments_and_writes_nothing(simulation_batch, args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        run(*args)

    assert not Ballot.objects.exists()
    assert not Follower.objects.exists()


def test_it_refuses_a_batch_without_cases(db):
    Batch.objects.create(number=3, name="第三批", first_number=61, last_number=90)

    with pytest.raises(CommandError, match="第3批还没有案例"):
        run("--batch", "3", "--seed", "1", *SMALL)


def without_ids(record) -> tuple:
    """A record's content: everything but its ballot and follower ids."""
    return (
        record.cast_at,
        record.followed_at,
        record.ip_network,
        record.ip_subnet,
        record.user_agent,
        record.device_id,
        record.form_served_at,
        record.cases,
        record.unfollowed_at,
    )


@pytest.mark.parametrize("options", [{}, {"attacks": ["churn"]}])
def test_it_builds_in_memory_the_records_it_would_write(simulation_batch, options):
    days = {"ballots": 600, "days": SIMULATION_DAYS, "end": SIMULATION_END, **options}
    written = simulate(simulation_batch, seed=16, **days)
    stored = load_records(simulation_batch)

    scenario, records = simulate_records(
        offer_for(simulation_batch, SIMULATION_END), seed=16, **days
    )

    assert [without_ids(r) for r in records] == [without_ids(r) for r in stored]
    assert all(r.cast_at.tzinfo == SHANGHAI for r in records)
    assert [(r.cast_at, r.id) for r in records] == sorted((r.cast_at, r.id) for r in records)
    # The same followers behind the same ballots, and the same ballots per kind.
    followers = {(s.follower_id, r.follower_id) for s, r in zip(stored, records, strict=True)}
    assert len({s for s, _ in followers}) == len({r for _, r in followers}) == len(followers)
    ids = {s.id: r.id for s, r in zip(stored, records, strict=True)}
    assert {kind: [ids[i] for i in found] for kind, found in written.ballot_ids.items()} == (
        scenario.ballot_ids
    )
    assert (scenario.counts, scenario.targets, scenario.decoys, scenario.trap_cases) == (
        written.counts,
        written.targets,
        written.decoys,
        written.trap_cases,
    )
    assert scenario.followers == written.followers
    assert any(r.unfollowed_at for r in records)


def test_it_builds_the_same_records_for_the_same_seed_and_needs_no_database(
    simulation_batch, django_assert_num_queries
):
    offer = offer_for(simulation_batch, SIMULATION_END)
    days = {"ballots": 400, "days": SIMULATION_DAYS, "end": SIMULATION_END}

    with django_assert_num_queries(0):
        first = simulate_records(offer, seed=17, **days)
        again = simulate_records(offer, seed=17, **days)
        other = simulate_records(offer, seed=18, **days)

    assert first == again
    assert [without_ids(r) for r in other[1]] != [without_ids(r) for r in first[1]]
    assert (offer.cases, offer.frequency, offer.batch) == (tuple(range(31, 61)), "daily", 2)
    assert 1 <= offer.min_choices <= offer.max_choices <= 30


def test_it_shares_repeated_strings_between_records(simulation_batch):
    _, records = simulate_records(
        offer_for(simulation_batch, SIMULATION_END),
        seed=19,
        ballots=400,
        days=SIMULATION_DAYS,
        end=SIMULATION_END,
    )

    for name in ("user_agent", "ip_network", "ip_subnet", "device_id"):
        values = [getattr(r, name) for r in records]
        assert len({id(v) for v in values}) == len(set(values)), name


def test_it_keeps_to_one_ballot_per_follower_in_memory_for_a_once_only_offer():
    offer = Offer(cases=tuple(range(31, 61)), min_choices=1, max_choices=5, frequency="once")

    scenario, records = simulate_records(
        offer, seed=20, ballots=500, days=SIMULATION_DAYS, end=SIMULATION_END
    )

    assert len({r.follower_id for r in records}) == len(records) == scenario.total
    assert scenario.batch == 0


def test_it_refuses_an_offer_it_cannot_simulate():
    few = Offer(cases=(1, 2, 3), min_choices=1, max_choices=3)
    with pytest.raises(SimulationError, match="可投票的案例只有 3 个"):
        simulate_records(few, seed=1, ballots=100, days=2, end=SIMULATION_END)
    odd = Offer(cases=tuple(range(1, 31)), min_choices=1, max_choices=3, frequency="hourly")
    with pytest.raises(SimulationError, match="未知的投票频率"):
        simulate_records(odd, seed=1, ballots=100, days=2, end=SIMULATION_END)
