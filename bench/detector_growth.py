"""How the brushing detector grows with the ballots: time and peak RSS of
`detect_brushing --store` at several sizes (bench/run.py --detector-sizes).

    .venv/bin/python bench/run.py --endpoints healthz --no-ablation --no-anchors \\
        --detector-sizes 100000,1000000,3000000

Each size has a database of its own on the benchmark's cluster
(casevote_detector_<size>), seeded once with bench/seed.sql and kept for the next
run; a new size starts as a copy of the largest smaller one (CREATE DATABASE ...
TEMPLATE), so 3,000,000 costs 2,000,000 more seeded ballots, not 3,000,000. The
seeding runs in a process of its own (python -m bench.detector_growth --seed N)
with that database's settings. Then the detector runs as the scheduler runs it,
`manage.py detect_brushing --batch 2 --store` in its own process, timed, its peak
RSS read from the kernel (wait4).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as a module of bench/: the site's apps live there

from tools import harness  # noqa: E402

BATCH_NUMBER = 2
DATABASE_PREFIX = "casevote_detector"
# The target (issue #15, item 4): the scheduled run's peak memory at a million ballots.
TARGET_BALLOTS = 1_000_000
MAX_PEAK_RSS_MB = 350
TARGET_NAME = "detect_brushing --store peak RSS"
FULL_SIZES = "100000,1000000,3000000"  # a full run's default --detector-sizes


@dataclass
class GrowthPoint:
    """One size: the ballots the detector read, its wall time and peak RSS."""

    requested: int
    ballots: int
    seconds: float
    peak_rss_mb: float
    cpu_seconds: float  # the process's user + system time: steadier than wall on a busy machine
    seeded_seconds: float  # seeding this database before the run (0 when kept)
    output: str


def sizes_option(text: str | None, quick: bool) -> tuple[int, ...]:
    """--detector-sizes: FULL_SIZES by default, none with --quick; "" for none."""
    return parse_sizes(("" if quick else FULL_SIZES) if text is None else text)


def parse_sizes(text: str) -> tuple[int, ...]:
    """'100000,1000000' → (100000, 1000000), ascending, without repeats."""
    sizes = sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()})
    if any(size <= 0 for size in sizes):
        raise ValueError("detector sizes must be positive")
    return tuple(sizes)


def database_name(size: int) -> str:
    return f"{DATABASE_PREFIX}_{size}"


def existing_databases(server_url: str) -> set[str]:
    connection = harness.connect(server_url, dbname="postgres")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT datname FROM pg_database")
            return {name for (name,) in cursor.fetchall()}
    finally:
        connection.close()


def ensure_database(server_url: str, size: int, sizes_seeded: set[int]) -> str:
    """The URL of the size's database, created as a copy of the largest smaller
    size's database when there is one (its ballots are a prefix of this one's)."""
    name = database_name(size)
    present = existing_databases(server_url)
    if name not in present:
        smaller = [s for s in sizes_seeded if s < size and database_name(s) in present]
        template = f' TEMPLATE "{database_name(max(smaller))}"' if smaller else ""
        connection = harness.connect(server_url, dbname="postgres")
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"{template}')
        finally:
            connection.close()
    return harness.with_database_name(server_url, name)


def seed(settings: dict[str, str], size: int) -> float:
    """Migrate and seed the database of `settings` up to `size` ballots in a process of
    its own; returns the seconds it took."""
    started = time.monotonic()
    subprocess.run(  # noqa: S603 (this module)
        [sys.executable, "-m", "bench.detector_growth", "--seed", str(size)],
        cwd=REPO,
        env=harness.process_environment(settings),
        check=True,
    )
    return round(time.monotonic() - started, 1)


def run_detector(settings: dict[str, str]) -> tuple[float, float, float, str]:
    """`detect_brushing --store` as the scheduler runs it: (seconds, peak RSS MB, CPU
    seconds, output)."""
    command = [sys.executable, "manage.py", "detect_brushing", "--batch", str(BATCH_NUMBER)]
    started = time.monotonic()
    process = subprocess.Popen(  # noqa: S603 (our own manage.py)
        [*command, "--store"],
        cwd=REPO,
        env=harness.process_environment(settings),
        stdout=subprocess.PIPE,
        text=True,
    )
    output = process.stdout.read().strip() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"detect_brushing --store failed: {output}")
    cpu = round(usage.ru_utime + usage.ru_stime, 1)
    return round(time.monotonic() - started, 1), round(usage.ru_maxrss / 1024, 1), cpu, output


def stored_ballots(output: str) -> int:
    """The ballot count in detect_brushing --store's line ('…：1006205 张有效选票…')."""
    digits = output.split("：", 1)[-1].split("张", 1)[0].strip()
    return int(digits) if digits.isdigit() else 0


def measure_growth(server_url: str, settings_for, sizes: tuple[int, ...], log=print) -> dict | None:
    """Seed (once) and measure each size; `settings_for(url)` gives the settings a
    process runs with on that database. Returns bench/results.json's "detector_growth"
    (None without sizes)."""
    if not sizes:
        return None
    points, seeded = [], set()
    for size in sizes:
        url = ensure_database(server_url, size, seeded)
        settings = settings_for(url)
        log(f"detector growth: seeding {database_name(size)} up to {size:,} ballots")
        seeded_seconds = seed(settings, size)
        seeded.add(size)
        log(f"detector growth: detect_brushing --store over {size:,} ballots")
        seconds, peak, cpu, output = run_detector(settings)
        points.append(
            GrowthPoint(size, stored_ballots(output), seconds, peak, cpu, seeded_seconds, output)
        )
        log(f"  {output} — {seconds} s ({cpu} s CPU), peak RSS {peak} MB")
    return growth_report(points)


def growth_report(points: list[GrowthPoint]) -> dict:
    """The points, and each one's time and memory per ballot and against the first."""
    rows = []
    first = points[0] if points else None
    for point in points:
        row = asdict(point)
        if first and first.ballots and point.ballots:
            scale = point.ballots / first.ballots
            row["ballots_x"] = round(scale, 2)
            row["seconds_x"] = round(point.seconds / first.seconds, 2) if first.seconds else None
            row["peak_rss_x"] = round(point.peak_rss_mb / first.peak_rss_mb, 2)
            cpu = first.cpu_seconds
            row["cpu_x"] = round(point.cpu_seconds / cpu, 2) if cpu else None
            row["us_per_ballot"] = round(point.seconds / point.ballots * 1e6, 1)
        rows.append(row)
    return {
        "points": rows,
        "target": {"ballots": TARGET_BALLOTS, "max_peak_rss_mb": MAX_PEAK_RSS_MB},
    }


def target_row(growth: dict | None) -> tuple[str, bool, str] | None:
    """(what, met, measured) for the size nearest TARGET_BALLOTS; None without one."""
    points = (growth or {}).get("points") or []
    if not points:
        return None
    point = min(points, key=lambda p: abs(p["ballots"] - TARGET_BALLOTS))
    return (
        f"{TARGET_NAME} ≤ {MAX_PEAK_RSS_MB} MB at {point['ballots']:,} ballots",
        point["peak_rss_mb"] <= MAX_PEAK_RSS_MB,
        f"{point['peak_rss_mb']:.0f} MB, {point['seconds']:.1f} s",
    )


def print_growth(growth: dict | None) -> None:
    points = (growth or {}).get("points") or []
    if not points:
        return
    print("\nBrushing detector (detect_brushing --store) by number of ballots:")
    print(
        f"{'ballots':>11} {'seconds':>8} {'CPU s':>7} {'peak RSS MB':>12} {'µs/ballot':>10}"
        f" {'× time':>7} {'× CPU':>6} {'× RSS':>6}"
    )
    for p in points:
        print(
            f"{p['ballots']:>11,} {p['seconds']:>8.1f} {p.get('cpu_seconds', 0):>7.1f}"
            f" {p['peak_rss_mb']:>12.0f} {p.get('us_per_ballot', 0):>10.1f}"
            f" {p.get('seconds_x') or 0:>7.2f} {p.get('cpu_x') or 0:>6.2f}"
            f" {p.get('peak_rss_x') or 0:>6.2f}"
        )
    print(flush=True)


def report_alone(growth: dict | None, results_file: Path) -> int:
    """--detector-only: print the figures and the target, and put them into the
    results file beside the last full run's figures (replacing its detector rows)."""
    print_growth(growth)
    row = target_row(growth)
    if row:
        print(f"{'PASS' if row[1] else 'MISS'}  {row[0]}: {row[2]}", flush=True)
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    results["detector_growth"] = growth
    kept = [t for t in results.get("targets", []) if not t["description"].startswith(TARGET_NAME)]
    results["targets"] = kept + (
        [{"description": row[0], "passed": row[1], "figure": row[2]}] if row else []
    )
    results_file.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    return 0


def _seed_here(size: int) -> None:
    """In the seeding process: migrate, load batch 2, seed up to `size` ballots."""
    from bench import run

    settings = dict(os.environ)
    run.setup_django(settings)
    harness.prepare_voting_database(settings)
    from cases.models import Batch

    batch_id = Batch.objects.get(number=BATCH_NUMBER).pk
    report = run.seed_ballots(batch_id, size)
    print(
        f"  {report.inserted:,} inserted in {report.seconds:.1f} s; batch holds "
        f"{report.ballots_in_batch:,} ballots, {report.choices_in_batch:,} choices",
        flush=True,
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--seed":
        _seed_here(int(sys.argv[2]))
    else:
        sys.exit("usage: python -m bench.detector_growth --seed N (bench/run.py runs it)")
