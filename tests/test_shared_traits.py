"""Shared traits: the paid services that spread their votes over many networks.

A distributed residential farm (hundreds of home /24s at ordinary hours, accounts
followed a minute before, a few seconds on the form, two user agents, a popular
case added as cover) and a small paid job that adds 10–15 % to a popular case are
invisible to the time and address selectors. What their ballots share is not: the
detector must localise them by it, flag their targets with reasons, report the
farm's cover as co-selected, and leave the honest traps that share traits of their
own (a loyal base who know the page, a campus on new phones, a province, a
workplace rush, a viral share) unflagged.

The polls are simulated in memory (`simulate_records`), so these tests are quick;
the full matrix over seeds is the scorecard (tests/test_scorecard.py, slow tier).
"""

import pytest

from ballots.detection import (
    CO_SELECTED,
    FLAGGED,
    detect,
    report_from_dict,
    report_to_dict,
    selectors,
)
from ballots.detection.poll import Poll
from ballots.detection.traits import TraitTable
from ballots.detection.verdicts import evaluate
from tools.scorecard import END
from tools.simulation import ALL_TRAPS, Offer, simulate_records

OFFER = Offer(cases=tuple(range(31, 61)), min_choices=1, max_choices=30, batch=2)
SEED = 2  # a tuning seed (tools.scorecard.TUNING_SEEDS)


@pytest.fixture(scope="module")
def poll():
    """Honest voting, every trap, the residential farm and the small attack."""
    scenario, records = simulate_records(
        OFFER,
        seed=SEED,
        attacks=("residential", "small"),
        traps=ALL_TRAPS,
        days=5,
        ballots=4_000,
        end=END,
    )
    return scenario, records, {r.case: r for r in detect(records, OFFER.cases)}


def test_it_flags_the_residential_farm_by_what_its_ballots_share(poll):
    scenario, _, reports = poll
    report = reports[scenario.targets["residential"]]

    assert report.verdict == FLAGGED
    deciding = report.slices[0]
    assert deciding.kind == "traits"
    farm = set(scenario.ballot_ids["residential"])
    inside = len(set(deciding.ballot_ids) & farm)
    assert inside >= 0.9 * len(deciding.ballot_ids) and inside >= 0.9 * len(farm)
    assert (
        report.reasons[0].startswith("共有特征：") and "按其余选票的比例应有" in report.reasons[0]
    )
    assert any(r.startswith("设备（强）：") for r in report.reasons)
    assert any("选择数整齐" in r or "搭配雷同" in r for r in report.reasons)
    assert report.traits and all(
        observed > 3 * expected for _, _, observed, expected in report.traits
    )


def test_the_farms_cover_is_reported_as_co_selected(poll):
    scenario, _, reports = poll
    target = scenario.targets["residential"]

    for decoy in scenario.decoys_of["residential"]:
        assert reports[decoy].verdict == CO_SELECTED, decoy
        assert target in reports[decoy].co_selected_with
    assert set(scenario.decoys_of["residential"]) <= set(reports[target].co_selected)


def test_it_flags_a_small_attack_that_adds_a_tenth_to_a_popular_case(poll):
    scenario, records, reports = poll
    target = scenario.targets["small"]
    honest = sum(target in r.cases for r in records) - len(scenario.ballot_ids["small"])

    assert 0.08 * honest <= len(scenario.ballot_ids["small"]) <= 0.17 * honest
    assert reports[target].verdict == FLAGGED


def test_no_honest_case_is_flagged_whatever_its_voters_share(poll):
    scenario, _, reports = poll
    honest = set(OFFER.cases) - scenario.attacked_cases - set(scenario.decoys)

    flagged = {number for number in honest if reports[number].verdict == FLAGGED}

    assert not flagged, {n: reports[n].reasons for n in flagged}
    for trap, case in scenario.trap_cases.items():
        assert reports[case].verdict != FLAGGED, trap


def test_a_case_is_compared_with_ballots_as_large_as_its_own():
    """A ballot naming five cases is five times as likely as a single-choice one to
    include a given case; an honest poll has no case whose ballot sizes stand out."""
    _, records = simulate_records(
        OFFER, seed=SEED, attacks=(), traps=(), days=5, ballots=4_000, end=END
    )
    table = TraitTable(Poll(records))

    sizes = [f for n in OFFER.cases for f in table.findings(n) if "ballot_size" in f.traits]

    assert sizes == []


def test_the_shared_traits_survive_being_stored_as_json(poll):
    scenario, _, reports = poll
    report = reports[scenario.targets["residential"]]

    assert report_from_dict(report_to_dict(report)) == report


def test_the_fresh_single_choice_cohort_is_scored_on_unfollows():
    """The cohort is picked for single choice and fresh follows, so those two are not
    scored on it; whether its voters left within hours of voting still is."""
    scenario, records = simulate_records(
        OFFER, seed=SEED, attacks=("churn",), traps=(), days=5, ballots=4_000, end=END
    )
    poll = Poll(records)
    target = scenario.targets["churn"]
    _, bursts = selectors.hourly(poll, target)
    candidates = selectors.suspect_slices(poll, target, selectors.focused(poll), bursts)
    cohort = next(c for c in candidates if c.kind == "cohort")

    scored = evaluate(poll, cohort)

    families = {f.name: f for f in scored.families}
    assert not families["identity"].skipped and families["identity"].score == 2
    assert "投票后 24 小时内取消关注占比" in families["identity"].metric
    assert not any("只选一个案例" in r or "新关注者多" in r for r in scored.reasons)
