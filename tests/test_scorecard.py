"""manage.py evaluate_detector: the brushing detector's scorecard, attack × trap × seed.

The fast tests run a few small cells: the table and the JSON say the same thing,
the scheduling does not change the result, bad arguments stop before any work and
write nothing, and the judging rules (decoys, background false alarms, the expected
miss) add up as the issue asks. They assert nothing about how good the detector is.

That is the slow tier's job (`-m scorecard`): the full matrix over the tuning seeds
must meet the target. It is expected to fail until the detector catches the newer
attack families; its assertion message lists every miss.
"""

import json
import os
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from ballots.detection import CO_SELECTED, FAMILIES, FLAGGED, WATCH, CaseReport, FamilyScore
from ballots.detection.thresholds import FLAG_MIN_FAMILIES, FLAG_MIN_STRONG
from cases.models import Batch
from tools.scorecard import (
    ATTACK_LABELS,
    END,
    JUDGED_SEEDS,
    TRAP_LABELS,
    TUNING_SEEDS,
    CaseOutcome,
    Cell,
    CellResult,
    DatabaseRefused,
    Margin,
    default_jobs,
    judge,
    run_cells,
    scorecard,
    summarise,
)
from tools.simulation import ALL_ATTACKS, ALL_TRAPS, offer_for

pytestmark = pytest.mark.django_db

SMALL = ["--attacks", "script,farm", "--traps", "village,viral", "--seeds", "1,2"]
SMALL += ["--ballots", "600"]
TIMINGS = ("simulate_seconds", "detect_seconds")


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("evaluate_detector", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def without_timings(data: dict) -> dict:
    """The scorecard minus what depends on the machine and the clock."""
    data = {key: value for key, value in data.items() if key not in ("timings", "generated_at")}
    data["cells"] = [
        {key: value for key, value in cell.items() if key not in TIMINGS} for cell in data["cells"]
    ]
    return data


# --- The table and the JSON ---------------------------------------------------------------


def test_it_prints_a_row_per_attack_and_trap_and_writes_the_same_as_json(batch2_loaded, tmp_path):
    path = tmp_path / "scorecard.json"
    output, errors = run(*SMALL, "--jobs", "1", "--output", str(path))
    data = json.loads(path.read_text(encoding="utf-8"))

    assert data["seeds"] == [1, 2] and data["seeds_kind"] == "tuning"
    assert "种子：1、2（调参种子" in output
    assert f"监测程序 {data['detector_version']}" in output
    assert data["ballots"] == 600 and data["days"] == 5 and data["batch"] == 2
    assert data["flag_bar"] == {"families": FLAG_MIN_FAMILIES, "strong": FLAG_MIN_STRONG}
    assert len(data["cells"]) == 2 * 2 * 2
    assert [(c["attack"], c["trap"], c["seed"]) for c in data["cells"]] == [
        (a, t, s) for a in ("script", "farm") for t in ("village", "viral") for s in (1, 2)
    ]

    for summary in data["attacks"]:
        row = re.search(
            rf"^{summary['attack']}\s+{re.escape(ATTACK_LABELS[summary['attack']])}\s+"
            r"(\d+)/(\d+)\s+(\d+)%\s+(\d+%|—)\s+"
            r"(\d+) 类证据（(\d+) 类强）／门槛 (\d+)（(\d+) 强）\s+(.+)$",
            output,
            re.MULTILINE,
        )
        assert row, summary["attack"]
        caught, runs, recall, share, families, strong, bar, bar_strong, misses = row.groups()
        cells = [c for c in data["cells"] if c["attack"] == summary["attack"]]
        assert (int(caught), int(runs)) == (summary["caught"], summary["runs"])
        assert summary["caught"] == sum(c["target"]["verdict"] == FLAGGED for c in cells)
        assert summary["runs"] == len(cells) == 4
        assert int(recall) == round(summary["recall"] * 100)
        caught_cells = [c for c in cells if c["caught"]]
        if caught_cells:
            held = sum(c["attack_in_slice"] for c in caught_cells)
            assert held / sum(c["attack_ballots"] for c in caught_cells) == pytest.approx(
                summary["slice_share"], abs=1e-4
            )
            assert share == f"{summary['slice_share']:.0%}"
        else:
            assert share == "—" and summary["slice_share"] is None
        assert {"families": int(families), "strong": int(strong)} == summary["weakest"]
        assert summary["weakest"]["families"] == min(
            c["target"]["margin"]["families"] for c in cells
        )
        assert (int(bar), int(bar_strong)) == (FLAG_MIN_FAMILIES, FLAG_MIN_STRONG)
        if not summary["missed"]:
            assert misses == "无"
        elif len(summary["missed"]) == summary["runs"]:
            assert misses == f"全部 {summary['runs']} 次"
        else:
            for trap in {place["trap"] for place in summary["missed"]}:
                seeds = [p["seed"] for p in summary["missed"] if p["trap"] == trap]
                assert f"{trap} 种子 {'、'.join(map(str, seeds))}" in misses

    for summary in data["traps"]:
        row = re.search(
            rf"^{summary['trap']}\s+{re.escape(TRAP_LABELS[summary['trap']])}\s+"
            r"(\d+)/(\d+)\s+(\d+)\s+(\d+) 类证据（(\d+) 类强）／门槛 \d+（\d+ 强）\s+(.+)$",
            output,
            re.MULTILINE,
        )
        assert row, summary["trap"]
        *numbers, alarms = row.groups()
        flagged, runs, watch, families, strong = map(int, numbers)
        assert (alarms == "无") == (flagged == 0)
        cells = [c for c in data["cells"] if c["trap"] == summary["trap"]]
        assert (flagged, runs, watch) == (summary["flagged"], summary["runs"], summary["watch"])
        assert flagged == sum(c["trap_case"]["verdict"] == FLAGGED for c in cells)
        assert watch == sum(c["trap_case"]["verdict"] == WATCH for c in cells)
        assert {"families": families, "strong": strong} == summary["strongest"]
        assert families == max(c["trap_case"]["margin"]["families"] for c in cells)

    farm = next(s for s in data["attacks"] if s["attack"] == "farm")
    assert farm["decoy_runs"] == 4
    assert f"陪投：farm {farm['decoys_co_selected']}/4 次全部判为陪投" in output
    assert (
        f"背景误报（攻击目标、陪投和陷阱之外被标记的案例）：{data['background_false_alarms']} 次"
        in (output)
    )
    assert ("结论：达标。" in output) == data["target_met"]
    assert ("结论：未达标。" in output) == (not data["target_met"])
    for failure in data["failures"]:
        assert f"  - {failure}" in output
    assert f"已写入 {path}。" in output
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # like any file, not mkstemp's 0600
    assert "用时" in errors and "用时" not in output


def test_it_gives_the_same_scorecard_whatever_the_number_of_workers(batch2_loaded, tmp_path):
    cards = []
    for jobs in ("1", "2"):
        path = tmp_path / f"jobs{jobs}.json"
        run(*SMALL, "--jobs", jobs, "--output", str(path))
        cards.append(json.loads(path.read_text(encoding="utf-8")))

    assert without_timings(cards[0]) == without_timings(cards[1])
    assert all(cell["detect_seconds"] > 0 for cell in cards[1]["cells"])
    assert cards[0]["generated_at"].endswith("+08:00")


def test_it_judges_on_the_seeds_never_used_for_tuning_by_default(batch2_loaded, tmp_path, settings):
    assert not set(TUNING_SEEDS) & set(JUDGED_SEEDS)
    assert len(TUNING_SEEDS) >= 5 and len(JUDGED_SEEDS) >= 5
    settings.BASE_DIR = tmp_path
    (tmp_path / "bench").mkdir()

    output, _ = run("--attacks", "script", "--traps", "village", "--ballots", "500")

    data = json.loads((tmp_path / "bench" / "scorecard.json").read_text(encoding="utf-8"))
    assert data["seeds"] == list(JUDGED_SEEDS) and data["seeds_kind"] == "judged"
    assert "种子：101、102、103、104、105（评判种子：调阈值时从未看过）" in output


def test_it_fails_the_check_only_when_the_target_is_missed_and_still_writes_the_table(
    batch2_loaded, tmp_path, monkeypatch
):
    import tools.scorecard

    real_detect = tools.scorecard.detect

    def everything_flagged(records, numbers):
        reports = real_detect(records, numbers)
        for report in reports:
            report.verdict, report.flagged = FLAGGED, True
        return reports

    path = tmp_path / "card.json"
    args = ("--attacks", "script", "--traps", "village", "--seeds", "1", "--ballots", "500")
    monkeypatch.setattr(tools.scorecard, "detect", everything_flagged)
    output, _ = run(*args, "--jobs", "1", "--output", str(path))  # no --check: reports only
    assert "结论：未达标。" in output
    assert "  - 陷阱 village 村里共用Wi-Fi：误报 1/1 次（script 种子 1）" in output
    assert "  - 背景误报：种子 1 × script × village 标记了案例 " in output

    path.unlink()
    with pytest.raises(
        CommandError, match=r"^未达标（2 项）：陷阱 village 村里共用Wi-Fi：误报 1/1 次"
    ):
        run(*args, "--jobs", "1", "--output", str(path), "--check")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["target_met"] is False and data["background_false_alarms"] > 0


# --- Bad arguments --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch", "9"], "没有第9批。请先用 load_cases 导入该批案例。"),
        (["--batch", "two"], "--batch 'two' 不是整数。"),
        (["--attacks", "script,nuke"], "--attacks 里有未知的名称 'nuke'。可选：script,"),
        (["--attacks", " , "], "--attacks 为空。"),
        (["--traps", "moon"], "--traps 里有未知的名称 'moon'。可选：village,"),
        (["--seeds", "1,x"], "--seeds 里的 'x' 不是整数。可用 judged、tuning 或逗号分隔的种子"),
        (["--seeds", "3,-1"], "--seeds 里的种子不能是负数，收到 -1。"),
        (["--seeds", ","], "--seeds 为空。"),
        (["--ballots", "499"], "--ballots 至少 500（收到 499）：正常选票太少"),
        (["--ballots", "many"], "--ballots 'many' 不是整数。"),
        (["--jobs", "0"], "--jobs 须在 1 到 64 之间，收到 0。"),
    ],
)
def test_it_refuses_bad_arguments_before_any_work_and_writes_nothing(
    batch2_loaded, tmp_path, args, message
):
    path = tmp_path / "card.json"
    with pytest.raises(CommandError, match=re.escape(message)):
        run("--attacks", "script", "--traps", "village", "--output", str(path), *args)
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_it_refuses_an_output_folder_that_does_not_exist(batch2_loaded, tmp_path):
    with pytest.raises(CommandError, match="的文件夹 .*missing 不存在"):
        run("--output", str(tmp_path / "missing" / "card.json"))
    with pytest.raises(CommandError, match="是一个文件夹，请给出文件名"):
        run("--output", str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_it_refuses_a_batch_with_too_few_votable_cases(batch2, make_case, tmp_path):
    for number in range(31, 36):
        make_case(number)
    path = tmp_path / "card.json"

    with pytest.raises(CommandError, match="第2批可投票的案例只有 5 个"):
        run("--attacks", "script", "--traps", "village", "--seeds", "1", "--output", str(path))
    assert not path.exists()


# --- Judging a cell, adding the cells up ---------------------------------------------------


def report(case: int, verdict: str, scores=(), *, co_selected=()) -> CaseReport:
    """A report with only what the scorecard reads; `scores` per family, None when skipped."""
    families = [
        FamilyScore(name, None, None, None, score or 0, skipped=score is None)
        for name, score in zip(FAMILIES, scores, strict=False)
    ]
    return CaseReport(
        case=case,
        verdict=verdict,
        flagged=verdict == FLAGGED,
        score=float(sum(s or 0 for s in scores)),
        reasons=[f"切片 {case}"] if scores else [],
        families=families,
        slices=[],
        hourly=[],
        top_ips=[],
        top_subnets=[],
        user_agents=0,
        devices=0,
        gap_histogram=[],
        co_selected=list(co_selected),
        co_selected_with=[],
        total=0,
        rank=0,
        total_without_slice=0,
        rank_without_slice=0,
    )


def test_it_counts_a_decoy_co_selected_when_it_rides_on_the_target_and_flagged_as_a_false_alarm():
    reports = [
        report(40, FLAGGED, (2, None, 2, 1, 0), co_selected=(31, 32, 33)),
        report(31, WATCH, (1, 1)),  # watched, but riding on the target's slice
        report(32, CO_SELECTED),
        report(33, FLAGGED, (2, 2, 2)),  # flagged: a false alarm, riding or not
        report(50, WATCH, (1, 2, 0)),
        report(55, FLAGGED, (2, 2, 1)),
        report(56, "clean"),
    ]

    target, trap, decoys, background = judge(reports, target=40, trap_case=50, decoys=[31, 32, 33])

    assert (target.verdict, target.margin, target.reason) == (FLAGGED, Margin(3, 2), "切片 40")
    assert (trap.verdict, trap.margin) == (WATCH, Margin(2, 1))
    assert [(d.case, d.verdict) for d in decoys] == [
        (31, CO_SELECTED),
        (32, CO_SELECTED),
        (33, FLAGGED),
    ]
    assert background == [55]


def cell(attack, trap, seed, target=FLAGGED, trap_verdict="clean", decoys=(), background=()):
    return CellResult(
        attack=attack,
        trap=trap,
        seed=seed,
        ballots=1000,
        target=CaseOutcome(40, target, Margin(3 if target == FLAGGED else 1, 1)),
        trap_case=CaseOutcome(50, trap_verdict, Margin(2 if trap_verdict == WATCH else 0, 0)),
        decoys=[CaseOutcome(31, verdict, Margin(0, 0)) for verdict in decoys],
        background=list(background),
        attack_ballots=100,
        attack_in_slice=90 if target == FLAGGED else 0,
        simulate_seconds=0.1,
        detect_seconds=0.1,
    )


def test_it_holds_the_stealth_farm_as_the_expected_miss_and_everything_else_to_the_target():
    met = [
        cell("script", "village", 1),
        cell("script", "village", 2, trap_verdict=WATCH),
        cell("farm", "village", 1, decoys=(CO_SELECTED,)),
        cell("farm", "village", 2, decoys=(CO_SELECTED, CO_SELECTED)),
        cell("stealth", "village", 1, target="clean"),
        cell("stealth", "village", 2, target=WATCH),
    ]
    card = summarise(met, seeds=[1, 2], ballots=1000)

    assert card.target_met and card.failures == []
    stealth = next(s for s in card.attacks if s.attack == "stealth")
    assert (stealth.expected_miss, stealth.caught, stealth.recall) == (True, 0, 0.0)
    assert stealth.weakest == Margin(1, 1)
    village = card.traps[0]
    assert (village.runs, village.flagged, village.watch, village.strongest) == (
        6,
        0,
        1,
        Margin(2, 0),
    )
    farm = next(s for s in card.attacks if s.attack == "farm")
    assert (farm.decoy_runs, farm.decoys_co_selected, farm.decoys_flagged) == (2, 2, 0)
    assert farm.slice_share == 0.9

    missed = [
        cell("script", "village", 1),
        cell("script", "viral", 2, target=WATCH),
        cell("farm", "village", 1, decoys=(CO_SELECTED, FLAGGED)),
        cell("farm", "viral", 2, decoys=(CO_SELECTED,), trap_verdict=FLAGGED, background=[44]),
    ]
    card = summarise(missed, seeds=[1, 2], ballots=1000)

    assert not card.target_met
    assert card.failures == [
        "script 单一地址脚本：漏检 1/2 次（viral 种子 2）",
        "farm 夜间点击农场：陪投案例只有 1/2 次全部判为陪投，1 次有陪投被标记",
        "陷阱 viral 微信群刷屏的真实走红：误报 1/2 次（farm 种子 2）",
        "背景误报：种子 2 × farm × viral 标记了案例 044",
    ]
    assert card.background_alarms == 1
    assert json.loads(json.dumps(card.to_dict()))["failures"] == card.failures


def test_its_cells_never_touch_the_database(batch2_loaded, monkeypatch):
    import tools.scorecard

    offer = offer_for(batch2_loaded, END)

    def reads_the_database(*args, **kwargs):
        Batch.objects.count()

    monkeypatch.setattr(tools.scorecard, "simulate_records", reads_the_database)
    cells = [Cell("script", "village", 1), Cell("script", "village", 2)]
    for jobs in (1, 2):
        with pytest.raises(DatabaseRefused, match="must not touch the database"):
            run_cells(offer, cells, ballots=500, jobs=jobs)
    assert Batch.objects.count() == 1  # the parent's connection still works


# --- The slow tier: the target -------------------------------------------------------------


@pytest.mark.scorecard
def test_it_meets_the_target_over_the_tuning_seeds(batch2_loaded):
    """Every attack family flagged on every tuning seed beside every trap (the stealth
    farm excepted), no trap and no other case flagged, every decoy co-selected."""
    card = scorecard(
        offer_for(batch2_loaded, END),
        seeds=TUNING_SEEDS,
        attacks=ALL_ATTACKS,
        traps=ALL_TRAPS,
        jobs=default_jobs(),
        batch=batch2_loaded.number,
    )

    assert len(card.cells) == len(ALL_ATTACKS) * len(ALL_TRAPS) * len(TUNING_SEEDS)
    met = card.target_met  # a bool, so pytest prints the message, not the whole card
    assert met, "调参种子 1–5 上未达标：\n" + "\n".join(card.failures)
