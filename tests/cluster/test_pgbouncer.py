"""PgBouncer in transaction mode carries the whole tier; the committee's tools work on it.

In transaction mode a server connection belongs to a client for one transaction only:
session state (a cursor WITH HOLD outside a transaction, a session advisory lock, a
prepared statement) does not survive. The nodes reach PostgreSQL only through it, so
every other test of the tier is also a test of the site behind it; here, the brushing
detector (server-side cursors over every ballot) runs through it as an operator would.
"""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from tests.load.voters import summary
from tools.harness import manage

from .residents import Residents, port_of, scalar

pytestmark = [pytest.mark.cluster, pytest.mark.postgres]

CASES = list(range(91, 121))
SIMULATED_BALLOTS = 12_000  # more than one chunk of ballots.evidence
BEIJING = ZoneInfo("Asia/Shanghai")
LOAD_VOTERS = 8
LOAD_SECONDS = 30.0


def test_the_nodes_reach_postgresql_only_through_pgbouncer(default_cluster):
    cluster = default_cluster
    assert cluster.pooled_database_url != cluster.direct_database_url
    for index in range(len(cluster.nodes)):
        url = cluster.node_settings(index).get("DATABASE_URL")
        assert url == cluster.pooled_database_url, (
            f"node {index} reaches PostgreSQL at {url}, not through PgBouncer "
            f"({cluster.pooled_database_url})"
        )


def simulated_batch(cluster, tmp_path) -> None:
    """Batch 4, a draft of thirty cases, with a simulated poll of more ballots than the
    detector reads in one chunk (ballots.evidence), ended two hours ago: outside every
    hourly budget of the other tests, and never shown to the public."""
    csv = tmp_path / "batch4.csv"
    csv.write_text(
        "number,title,province,body\n"
        + "".join(f"{n},第四批案例{n},北京市,第四批案例{n}的正文，用于模拟投票。\n" for n in CASES),
        encoding="utf-8-sig",
    )
    first, last = str(CASES[0]), str(CASES[-1])
    cluster.manage(
        "load_cases",
        str(csv),
        *("--batch", "4", "--batch-name", "第四批（模拟）", "--first", first, "--last", last),
        "-v0",
    )
    ended = timezone.localtime(timezone.now() - timedelta(hours=2), BEIJING)
    settings = cluster.node_settings(0) | {"DATABASE_URL": cluster.direct_database_url}
    manage(
        "simulate_votes",
        *("--batch", "4", "--seed", "24", "--attacks", "script", "--traps", "none"),
        *("--ballots", str(SIMULATED_BALLOTS), "--days", "2"),
        *("--end", ended.strftime("%Y-%m-%d %H:%M")),
        settings=settings,
    )


def test_the_brushing_detector_runs_and_stores_through_pgbouncer_under_load(
    default_cluster, tmp_path
):
    """Residents vote through the nodes meanwhile, so PgBouncer hands its server
    connections from one client to another between the detector's statements: a cursor
    that outlived its transaction would be looked for on another connection."""
    cluster = default_cluster
    direct = cluster.direct_database_url
    through_pgbouncer = cluster.node_settings(0)  # the nodes' settings: DATABASE_URL pooled
    assert through_pgbouncer.get("DATABASE_URL") == cluster.pooled_database_url, (
        "node 0's settings do not name PgBouncer's URL: the detector would not go through it"
    )
    simulated_batch(cluster, tmp_path)
    runs_before = scalar(direct, "SELECT count(*) FROM ballots_detectionrun")
    run = Residents(port_of(cluster.url), count=LOAD_VOTERS, seconds=LOAD_SECONDS).start()
    try:
        table = manage("detect_brushing", "--batch", "4", settings=through_pgbouncer)
        stored = manage("detect_brushing", "--batch", "4", "--store", settings=through_pgbouncer)
    finally:
        run.stop()
        stats = run.join()

    print(
        f"\n[cluster] detect_brushing through PgBouncer while residents voted "
        f"({summary(stats, run.elapsed)}):\n{table.splitlines()[0]}\n{stored}"
    )
    assert "第4批刷票监测" in table, f"the detector's table is missing: {table[:500]}"
    assert "已保存第4批的检测记录" in stored, f"the detector did not store its run: {stored}"
    assert scalar(direct, "SELECT count(*) FROM ballots_detectionrun") == runs_before + 1, (
        "the detector said it stored its run, but PostgreSQL has no new run"
    )
    assert stats.server_error_count() == 0, f"residents met errors: {stats.server_errors[:3]}"
    assert stats.failures == [], "wrong answers to residents:\n" + "\n".join(stats.failures)
