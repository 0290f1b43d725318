"""What only the load tier needs: its skip marks, its settings, fault injection and an
audit of what the database holds. Clusters, databases, manage.py and gunicorn come from
`tools.harness`, which the benchmark uses too.
"""

import os
import shutil
import signal
import socket
import time
from dataclasses import dataclass

import pytest

from tools.harness import GUNICORN, LOOPBACK, Gunicorn, app_settings, connect, pg_bin

DATABASE_URL = os.environ.get("DATABASE_URL", "")


def on_postgresql() -> bool:
    return DATABASE_URL.startswith(("postgres://", "postgresql://"))


def needs_postgresql_and_gunicorn() -> list[pytest.MarkDecorator]:
    """Skip marks for every load test: PostgreSQL in DATABASE_URL, gunicorn installed."""
    return [
        pytest.mark.skipif(
            not on_postgresql(),
            reason="load tier needs PostgreSQL: set DATABASE_URL=postgres://... "
            "(it creates its own database on that server; SQLite has no concurrent writers)",
        ),
        pytest.mark.skipif(
            not GUNICORN.exists(), reason=f"load tier needs gunicorn ({GUNICORN} is missing)"
        ),
    ]


def needs_postgresql_binaries(test):
    """Skip a test that starts and stops a PostgreSQL cluster of its own without the means."""
    marks = [
        pytest.mark.skipif(
            pg_bin() is None or shutil.which("su") is None,
            reason="needs the PostgreSQL server binaries (apt-get install -y postgresql) and su",
        ),
        pytest.mark.skipif(
            os.geteuid() != 0,
            reason="scripts/postgres.sh runs the cluster as the postgres user: needs root",
        ),
    ]
    for mark in marks:
        test = mark(test)
    return test


def dual_stack_problem() -> str | None:
    """Why a server listening on [::] cannot take connections to 127.0.0.1 and ::1 on
    this machine (no IPv6, or sockets IPv6-only by default as gunicorn leaves them:
    net.ipv6.bindv6only=1), or None when it can."""
    if not socket.has_ipv6:
        return "Python was built without IPv6"
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as listener:
            listener.bind(("::", 0))
            listener.listen(1)
            port = listener.getsockname()[1]
            with socket.create_connection((LOOPBACK, port), timeout=2):
                pass
            with socket.create_connection(("::1", port), timeout=2):
                pass
    except OSError as error:
        return f"no dual-stack loopback: {error}"
    return None


def load_settings(database_url: str) -> dict[str, str]:
    """Production settings, except what would stop a load test that is not about them."""
    return app_settings(database_url) | {
        # Every voter comes from 127.0.0.1: the hourly budgets would stop the test.
        "CASEVOTE_IP_HOURLY_BUDGET": "1000000",
        "CASEVOTE_SUBNET_HOURLY_BUDGET": "1000000",
        "CASEVOTE_FOLLOWS_PER_ADDRESS_HOURLY": "1000000",
        # The real rule: voters read for at least this long before submitting.
        "CASEVOTE_MIN_DWELL_SECONDS": "2",
        "LOG_LEVEL": "INFO",
    }


# --- Faults ---------------------------------------------------------------------


def _tcp_sockets() -> list[tuple[int, int, str, int]]:
    """(local port, remote port, state, inode) of this namespace's IPv4 TCP sockets."""
    sockets = []
    with open("/proc/net/tcp") as handle:
        next(handle)
        for line in handle:
            fields = line.split()
            local, remote = fields[1].split(":")[1], fields[2].split(":")[1]
            sockets.append((int(local, 16), int(remote, 16), fields[3], int(fields[9])))
    return sockets


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    except OSError:
        pass
    return inodes


def _owner(pids: set[int], inodes: set[int]) -> int | None:
    for pid in sorted(pids):
        if _socket_inodes(pid) & inodes:
            return pid
    return None


def worker_serving_a_request(server: Gunicorn, timeout: float) -> int | None:
    """A worker holding an accepted client connection: it is in the middle of a request."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        inodes = {
            inode
            for local, _, state, inode in _tcp_sockets()
            if local == server.port and state == "01"  # ESTABLISHED, accepted by a worker
        }
        worker = _owner(server.workers(), inodes) if inodes else None
        if worker is not None:
            return worker
        time.sleep(0.001)
    return None


def kill_worker_inside_a_ballot(server: Gunicorn, database_url: str, timeout: float):
    """SIGKILL a worker in the middle of a ballot's transaction: its statement that writes
    the ballot and its choices (ballots.storing, one round trip on PostgreSQL) waiting for
    ballots_choice. Holding that table's EXCLUSIVE lock stops every ballot there (reads
    go on); the lock is released right after the kill. Returns the pid, or None."""
    locker, watcher = connect(database_url), connect(database_url)
    try:
        with locker.cursor() as lock, watcher.cursor() as cursor:
            lock.execute("BEGIN")
            lock.execute("LOCK TABLE ballots_choice IN EXCLUSIVE MODE")
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                # From another connection: pg_stat_activity is a snapshot per transaction.
                # Its text is cut at track_activity_query_size (1 kB): the ballot's
                # statement is known by its start, which also inserts the choices.
                cursor.execute(
                    """SELECT client_port FROM pg_stat_activity
                        WHERE datname = current_database() AND state = 'active'
                          AND wait_event_type = 'Lock'
                          AND query LIKE '%INSERT INTO "ballots_ballot"%'"""
                )
                ports = {port for (port,) in cursor.fetchall()}
                if ports:
                    inodes = {inode for local, _, _, inode in _tcp_sockets() if local in ports}
                    worker = _owner(server.workers(), inodes)
                    if worker is not None:
                        os.kill(worker, signal.SIGKILL)
                        return worker
                time.sleep(0.005)
            return None
    finally:
        try:
            with locker.cursor() as lock:
                lock.execute("ROLLBACK")
        finally:
            locker.close()
            watcher.close()


# --- What the database holds --------------------------------------------------


@dataclass
class Audit:
    ballots: int
    choices: int
    followers: int
    stored: dict[str, tuple[int, frozenset[int]]]  # receipt -> (follower id, case numbers)
    nonces: set[str]
    ballots_without_choices: int
    choices_without_ballot: int
    duplicates_per_period: list[tuple]
    duplicates_per_day: list[tuple]


def audit(database_url: str) -> Audit:
    connection = connect(database_url)
    try:
        with connection.cursor() as cursor:

            def scalar(sql: str) -> int:
                cursor.execute(sql)
                return cursor.fetchone()[0]

            def rows(sql: str) -> list[tuple]:
                cursor.execute(sql)
                return cursor.fetchall()

            stored = {
                receipt: (follower, frozenset(numbers or ()))
                for receipt, follower, numbers in rows(
                    """SELECT b.receipt, b.follower_id,
                              array_remove(array_agg(c.number), NULL)
                         FROM ballots_ballot b
                         LEFT JOIN ballots_choice ch ON ch.ballot_id = b.id
                         LEFT JOIN cases_case c ON c.id = ch.case_id
                        GROUP BY b.receipt, b.follower_id"""
                )
            }
            return Audit(
                ballots=scalar("SELECT count(*) FROM ballots_ballot"),
                choices=scalar("SELECT count(*) FROM ballots_choice"),
                followers=scalar("SELECT count(*) FROM ballots_follower"),
                stored=stored,
                nonces={nonce for (nonce,) in rows("SELECT form_nonce FROM ballots_ballot")},
                ballots_without_choices=scalar(
                    """SELECT count(*) FROM ballots_ballot b
                        WHERE NOT EXISTS (SELECT 1 FROM ballots_choice ch
                                           WHERE ch.ballot_id = b.id)"""
                ),
                choices_without_ballot=scalar(
                    """SELECT count(*) FROM ballots_choice ch
                         LEFT JOIN ballots_ballot b ON b.id = ch.ballot_id
                        WHERE b.id IS NULL"""
                ),
                duplicates_per_period=rows(
                    """SELECT follower_id, batch_id, period, count(*) FROM ballots_ballot
                        GROUP BY follower_id, batch_id, period HAVING count(*) > 1"""
                ),
                duplicates_per_day=rows(
                    """SELECT follower_id, batch_id, cast_day, count(*) FROM ballots_ballot
                        GROUP BY follower_id, batch_id, cast_day HAVING count(*) > 1"""
                ),
            )
    finally:
        connection.close()


def unkept_acknowledgements(acks, found: Audit) -> list[str]:
    """Acknowledged ballots missing from the database, stored with other cases, or two
    acknowledged for one follower: each is a broken promise to a voter."""
    problems = []
    receipts_per_follower: dict[int, set[str]] = {}
    for ack in acks:
        if ack.receipt not in found.stored:
            problems.append(f"acknowledged {ack.receipt} is not stored")
            continue
        follower, numbers = found.stored[ack.receipt]
        if numbers != ack.cases:
            problems.append(f"{ack.receipt}: sent {sorted(ack.cases)}, stored {sorted(numbers)}")
        receipts_per_follower.setdefault(follower, set()).add(ack.receipt)
    problems += [
        f"follower {follower} acknowledged {len(receipts)} ballots: {sorted(receipts)}"
        for follower, receipts in receipts_per_follower.items()
        if len(receipts) > 1
    ]
    return problems


def traceback_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "Traceback" in line]
