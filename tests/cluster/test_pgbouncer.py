"""PgBouncer in transaction mode carries the whole tier; the committee's tools work on it.

In transaction mode a server connection belongs to a client for one transaction only:
session state (a cursor WITH HOLD outside a transaction, a session advisory lock, a
prepared statement) does not survive. The nodes reach PostgreSQL only through it, so
every other test of the tier is also a test of the site behind it; here, the brushing
detector (server-side cursors over every ballot) runs through it as an operator would.
"""

import pytest

from tools.harness import manage

from .residents import Residents, port_of, scalar

pytestmark = [pytest.mark.cluster, pytest.mark.postgres]

MIN_BALLOTS = 3


def test_the_nodes_reach_postgresql_only_through_pgbouncer(default_cluster):
    cluster = default_cluster
    assert cluster.pooled_database_url != cluster.direct_database_url
    for index in range(len(cluster.nodes)):
        url = cluster.node_settings(index).get("DATABASE_URL")
        assert url == cluster.pooled_database_url, (
            f"node {index} reaches PostgreSQL at {url}, not through PgBouncer "
            f"({cluster.pooled_database_url})"
        )


def test_the_brushing_detector_runs_and_stores_through_pgbouncer(default_cluster):
    cluster = default_cluster
    direct = cluster.direct_database_url
    if scalar(direct, "SELECT count(*) FROM ballots_ballot") < MIN_BALLOTS:
        # Run alone, the tier has no ballots yet: a few residents vote first.
        run = Residents(port_of(cluster.url), count=MIN_BALLOTS, seconds=6, retriers=False)
        run.start().join()
        assert len(run.stats.acks) >= MIN_BALLOTS, f"no ballots to detect: {run.stats.failures}"
    runs_before = scalar(direct, "SELECT count(*) FROM ballots_detectionrun")
    through_pgbouncer = cluster.node_settings(0)  # the nodes' settings: DATABASE_URL pooled
    assert through_pgbouncer.get("DATABASE_URL") == cluster.pooled_database_url, (
        "node 0's settings do not name PgBouncer's URL: the detector would not go through it"
    )

    table = manage("detect_brushing", "--batch", "2", settings=through_pgbouncer)
    stored = manage("detect_brushing", "--batch", "2", "--store", settings=through_pgbouncer)

    print(f"\n[cluster] detect_brushing through PgBouncer:\n{table.splitlines()[0]}\n{stored}")
    assert "第2批刷票监测" in table, f"the detector's table is missing: {table[:500]}"
    assert "已保存第2批的检测记录" in stored, f"the detector did not store its run: {stored}"
    assert scalar(direct, "SELECT count(*) FROM ballots_detectionrun") == runs_before + 1, (
        "the detector said it stored its run, but PostgreSQL has no new run"
    )
