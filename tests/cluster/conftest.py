"""Fixtures of the cluster tier: one cluster for the whole session (tools/cluster.py:
PostgreSQL database on DATABASE_URL's server, Redis, PgBouncer in transaction mode, two
gunicorn nodes, nginx round-robin), nodes restarted only when a test needs other settings.

Starting the cluster costs far more than any test, so it starts once. Tests never clean
the database: each resident comes from an address of its own (residents.fresh_address),
and each test asks for the settings it needs (`nodes_with`); the nodes are restarted
only when those differ from what they run now.

Without a prerequisite the whole tier is left out and said so in one line, as the
browser tier does (tests/browser/conftest.py).
"""

import os
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

import tools.cluster as cluster_module
from tests.load.harness import DATABASE_URL, on_postgresql
from tests.tiers import OptionalTier
from tools.harness import GUNICORN, collect_static, pg_bin

from .residents import CREATE_COMMITTEE_MEMBER


def skip_reason() -> str | None:
    """What this machine lacks for the tier, in words, or None."""
    if not on_postgresql():
        return (
            "cluster tier needs PostgreSQL: set DATABASE_URL=postgres://... "
            "(it creates its own database on that server)"
        )
    missing = list(cluster_module.missing_packages())
    if pg_bin() is None and "postgresql" not in missing:
        missing.append("postgresql")
    if missing:
        return f"cluster tier needs {', '.join(missing)} (apt-get install -y {' '.join(missing)})"
    if not GUNICORN.exists():
        return f"cluster tier needs gunicorn ({GUNICORN} is missing)"
    if os.geteuid() != 0:
        return "cluster tier runs PgBouncer and PostgreSQL as the postgres user: needs root"
    return None


tier = OptionalTier("cluster", skip_reason)
pytest_collection_modifyitems = tier.collection_modifyitems
pytest_sessionfinish = tier.sessionfinish
pytest_terminal_summary = tier.terminal_summary


class Applied:
    """The extra settings the nodes run with now (tools.cluster.Cluster.restart_nodes)."""

    def __init__(self) -> None:
        self.settings: dict[str, str] = {}


@pytest.fixture(scope="session")
def cluster(request):
    """The cluster, started once; stopped at the end, its folder kept if a test failed."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    began = time.monotonic()
    collect_static()
    # Not under pytest's 0700 temporary folder: PgBouncer runs as postgres and reads here.
    root = Path(f"/tmp/casevote-cluster-{os.getpid()}")  # noqa: S108 - removed after
    shutil.rmtree(root, ignore_errors=True)
    cluster = cluster_module.Cluster(root=root, database_url=DATABASE_URL)
    try:
        cluster.start()
        cluster.manage("shell", "-c", CREATE_COMMITTEE_MEMBER)
        print(
            f"\n[cluster] started in {time.monotonic() - began:.1f} s: nginx {cluster.url}, "
            f"nodes {[node.base_url for node in cluster.nodes]}, "
            f"PgBouncer {cluster.pooled_database_url}, Redis {cluster.redis_url}"
        )
        yield cluster
    finally:
        cluster.stop()
        failed = request.session.testsfailed
        if failed:
            print(f"\n[cluster] {failed} failed: logs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
        print(f"\n[cluster] the tier took {time.monotonic() - began:.1f} s")


@pytest.fixture(scope="session")
def applied() -> Applied:
    return Applied()


@pytest.fixture
def nodes_with(cluster, applied) -> Callable[[Mapping[str, str]], object]:
    """Make both nodes run with these extra settings (a restart only when they differ
    from the current ones); returns the cluster. Every node is up afterwards."""

    def apply(settings: Mapping[str, str]):
        wanted = dict(settings)
        if wanted != applied.settings:
            began = time.monotonic()
            applied.settings = {"(restarting)": "1"}  # a failed restart restarts again
            cluster.restart_nodes(wanted)
            applied.settings = wanted
            print(f"\n[cluster] nodes restarted in {time.monotonic() - began:.1f} s: {wanted}")
        for index, node in enumerate(cluster.nodes):
            if not node.answers():
                cluster.start_node(index)  # a test that failed with a node down
        return cluster

    return apply


@pytest.fixture
def default_cluster(nodes_with):
    """The cluster with the nodes on their default settings."""
    return nodes_with({})
