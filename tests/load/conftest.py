"""Fixtures of the load tier: collected static files, a database of the test's own,
gunicorn serving it, and a PostgreSQL cluster that a test may stop."""

import os

import pytest

from tools.harness import (
    Gunicorn,
    PostgresCluster,
    app_settings,
    collect_static,
    create_database,
    drop_database,
    free_port,
    prepare_voting_database,
)

from . import harness


@pytest.fixture(scope="session")
def collected_static() -> None:
    collect_static()


@pytest.fixture
def voting_database():
    """A database on DATABASE_URL's server, migrated, batch 2 loaded and open; dropped after."""
    url = create_database(harness.DATABASE_URL)
    try:
        prepare_voting_database(app_settings(url))
        yield url
    finally:
        drop_database(url)


def _serve(database_url: str, tmp_path):
    server = Gunicorn(harness.load_settings(database_url), tmp_path / "gunicorn.log")
    try:
        yield server.start()
    finally:
        server.stop()
        print(f"\n[load] gunicorn log: {server.log_path}")


@pytest.fixture
def site(collected_static, voting_database, tmp_path):
    """gunicorn (2 sync workers, DEBUG off) on a free loopback port."""
    yield from _serve(voting_database, tmp_path)


@pytest.fixture
def fault_cluster():
    """A PostgreSQL cluster of this test's own (never the one the suite runs on)."""
    cluster = PostgresCluster(
        root=f"/tmp/casevote-fault-pg-{os.getpid()}",  # noqa: S108 - owned by postgres, removed after
        port=free_port(),
    )
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def fault_site(collected_static, fault_cluster, tmp_path):
    """gunicorn against the fault cluster's database, batch 2 open."""
    prepare_voting_database(app_settings(fault_cluster.url))
    yield from _serve(fault_cluster.url, tmp_path)
