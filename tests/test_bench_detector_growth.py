"""bench/detector_growth.py: the detector's time and memory by number of ballots, as
bench/run.py --detector-sizes reports them (the figures here are made up; the real ones
come from PostgreSQL in `make bench`)."""

import json

import pytest

from bench import detector_growth
from bench.detector_growth import GrowthPoint, growth_report, parse_sizes, target_row


def point(ballots: int, seconds: float, rss: float) -> GrowthPoint:
    return GrowthPoint(
        ballots, ballots, seconds, rss, seconds / 2, 0.0, f"已保存…：{ballots} 张有效选票，…"
    )


def test_sizes_come_sorted_once_and_default_to_the_three_for_a_full_run():
    assert parse_sizes("1000000, 100_000,1000000") == (100_000, 1_000_000)
    assert detector_growth.sizes_option(None, quick=False) == (100_000, 1_000_000, 3_000_000)
    assert detector_growth.sizes_option(None, quick=True) == ()
    assert detector_growth.sizes_option("", quick=False) == ()
    with pytest.raises(ValueError):
        parse_sizes("0,100")


def test_growth_is_given_against_the_smallest_size():
    growth = growth_report([point(100_000, 10.0, 100.0), point(1_000_000, 80.0, 300.0)])

    small, large = growth["points"]
    assert (large["ballots_x"], large["seconds_x"], large["peak_rss_x"]) == (10.0, 8.0, 3.0)
    assert large["cpu_x"] == 8.0
    assert (small["us_per_ballot"], large["us_per_ballot"]) == (100.0, 80.0)
    assert growth["target"] == {"ballots": 1_000_000, "max_peak_rss_mb": 350}


def test_the_target_reads_the_size_nearest_a_million():
    passed = growth_report(
        [point(100_000, 9, 120), point(1_000_000, 70, 340), point(3_000_000, 300, 800)]
    )
    missed = growth_report([point(1_000_000, 70, 351)])

    assert target_row(passed) == (
        "detect_brushing --store peak RSS ≤ 350 MB at 1,000,000 ballots",
        True,
        "340 MB, 70.0 s",
    )
    assert target_row(missed)[1] is False
    assert target_row(None) is None


def test_the_ballot_count_is_read_from_the_commands_line():
    line = "已保存第2批的检测记录 #4：1006205 张有效选票，用时 123.0 秒。"
    assert detector_growth.stored_ballots(line) == 1_006_205
    assert detector_growth.stored_ballots("?") == 0


def test_alone_it_updates_the_results_file_and_keeps_the_rest(tmp_path, capsys):
    results = tmp_path / "results.json"
    old_row = {"description": "detect_brushing --store peak RSS ≤ 350 MB at 1", "passed": False}
    results.write_text(json.dumps({"runs": [1], "targets": [{"description": "x"}, old_row]}))
    growth = growth_report([point(1_000_000, 70, 300)])

    assert detector_growth.report_alone(growth, results) == 0

    written = json.loads(results.read_text())
    assert written["runs"] == [1] and written["detector_growth"] == growth
    assert [t["description"] for t in written["targets"]] == [
        "x",
        "detect_brushing --store peak RSS ≤ 350 MB at 1,000,000 ballots",
    ]
    assert "PASS" in capsys.readouterr().out
