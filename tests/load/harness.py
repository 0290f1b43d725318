"""Servers for the load tier: a database of its own, gunicorn, a PostgreSQL cluster to stop.

Everything runs on 127.0.0.1, every wait is bounded, and every process started here is
stopped by its own pid when the test ends.
"""

import glob
import http.client
import itertools
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
import psycopg2
import pytest

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).parent / "gunicorn"
POSTGRES_SCRIPT = ROOT / "scripts" / "postgres.sh"
DATABASE_URL = os.environ.get("DATABASE_URL", "")
LOOPBACK = "127.0.0.1"

COMMAND_TIMEOUT = 120  # seconds for one manage.py / postgres.sh call
BOOT_TIMEOUT = 30  # seconds for gunicorn to answer with all its workers
STOP_TIMEOUT = 25  # gunicorn's graceful_timeout is 20 s
WORKERS = 2

_database_numbers = itertools.count(1)


def _pg_bin() -> str | None:
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    return dirs[-1] if dirs else None


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
            _pg_bin() is None or shutil.which("su") is None,
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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def with_database_name(url: str, name: str) -> str:
    return urlsplit(url)._replace(path="/" + name).geturl()


def connect(url: str, dbname: str | None = None):
    config = dj_database_url.parse(url)
    connection = psycopg2.connect(
        dbname=dbname or config["NAME"],
        user=config["USER"] or None,
        password=config["PASSWORD"] or None,
        host=config["HOST"] or None,
        port=config["PORT"] or None,
        connect_timeout=10,
    )
    connection.autocommit = True
    return connection


def create_database(server_url: str) -> str:
    """A fresh, empty database on the server of `server_url`; returns its URL."""
    name = f"casevote_load_{os.getpid()}_{next(_database_numbers)}"
    connection = connect(server_url, dbname="postgres")
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        connection.close()
    return with_database_name(server_url, name)


def drop_database(url: str) -> None:
    name = dj_database_url.parse(url)["NAME"]
    connection = connect(url, dbname="postgres")
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        connection.close()


def _clean_environment() -> dict[str, str]:
    """The environment minus anything that would change the app's behaviour under test."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CASEVOTE_", "GUNICORN_", "SECURE_", "DJANGO_"))
        and key not in {"CONN_MAX_AGE", "DATABASE_URL", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS"}
    }


def app_environment(database_url: str, secret_key: str) -> dict[str, str]:
    """Production settings (DEBUG off, persistent connections), plain http on loopback."""
    return {
        **_clean_environment(),
        "DJANGO_SETTINGS_MODULE": "casevote.settings",
        "DEBUG": "0",
        "SECRET_KEY": secret_key,
        "ALLOWED_HOSTS": LOOPBACK,
        "DATABASE_URL": database_url,
        "CASEVOTE_SECURE_COOKIES": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        # Every voter comes from 127.0.0.1: the hourly budgets would stop the test.
        "CASEVOTE_IP_HOURLY_BUDGET": "1000000",
        "CASEVOTE_SUBNET_HOURLY_BUDGET": "1000000",
        # The real rule: voters read for at least this long before submitting.
        "CASEVOTE_MIN_DWELL_SECONDS": "2",
        "LOG_LEVEL": "INFO",
    }


def manage(*args: str, database_url: str = "") -> str:
    env = app_environment(database_url or "sqlite:///unused", secrets.token_urlsafe(50))
    result = subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def prepare_voting_database(database_url: str) -> None:
    """What an operator does: migrate, load batch 2, open it for voting now."""
    manage("migrate", "--noinput", "-v0", database_url=database_url)
    manage("load_cases", "fixtures/batch2.json", database_url=database_url)
    manage("set_voting", "--batch", "2", "--open-now", "--days", "30", database_url=database_url)


def collect_static() -> None:
    """DEBUG off serves hashed files through whitenoise's manifest: collect them once."""
    manage("collectstatic", "--noinput", "-v0")


def child_pids(parent: int) -> set[int]:
    """Live processes whose parent is `parent` (gunicorn's workers of a master)."""
    children = set()
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After "pid (comm)": state, ppid, ...; a zombie ("Z") is already dead.
        if fields[0] != "Z" and int(fields[1]) == parent:
            children.add(int(stat.split("/")[2]))
    return children


@dataclass
class Gunicorn:
    """`gunicorn -c gunicorn.conf.py` on a free loopback port, against `database_url`."""

    database_url: str
    log_path: Path
    port: int = 0
    process: subprocess.Popen | None = None

    def start(self) -> "Gunicorn":
        self.port = free_port()
        env = {
            **app_environment(self.database_url, secrets.token_urlsafe(50)),
            "GUNICORN_BIND": f"{LOOPBACK}:{self.port}",
            "GUNICORN_WORKERS": str(WORKERS),
            "GUNICORN_THREADS": "1",
        }
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(  # noqa: S603 - the venv's gunicorn
            # No control socket: it would be the shared $HOME/.gunicorn/gunicorn.ctl.
            [str(GUNICORN), "-c", "gunicorn.conf.py", "--no-control-socket"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        self.wait_until_serving(BOOT_TIMEOUT)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def workers(self) -> set[int]:
        return child_pids(self.pid)

    def answers(self, path: str = "/healthz") -> bool:
        connection = http.client.HTTPConnection(LOOPBACK, self.port, timeout=5)
        try:
            connection.request("GET", path)
            return connection.getresponse().status == 200
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()

    def wait_until_serving(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.process.returncode}):\n{self.log()}")
            if len(self.workers()) == WORKERS and self.answers():
                return
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not serve within {timeout} s:\n{self.log()[-3000:]}")

    def wait_for_workers(self, excluding: set[int], timeout: float) -> set[int] | None:
        """Wait until the master runs WORKERS workers, none of them in `excluding`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            workers = self.workers()
            if len(workers) == WORKERS and not workers & excluding:
                return workers
            time.sleep(0.05)
        return None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        workers = self.workers()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        # Workers exit when their master does; kill any left behind, by pid.
        for pid in workers:
            if _is_gunicorn(pid):
                os.kill(pid, signal.SIGKILL)


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


def worker_serving_a_request(server: "Gunicorn", timeout: float) -> int | None:
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


def kill_worker_inside_a_ballot(server: "Gunicorn", database_url: str, timeout: float):
    """SIGKILL the worker whose ballot transaction has inserted the ballot row and not yet
    its choices. Holding ballots_choice's EXCLUSIVE lock stops every ballot there (reads
    go on); the lock is released right after the kill. Returns the pid, or None."""
    locker, watcher = connect(database_url), connect(database_url)
    try:
        with locker.cursor() as lock, watcher.cursor() as cursor:
            lock.execute("BEGIN")
            lock.execute("LOCK TABLE ballots_choice IN EXCLUSIVE MODE")
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                # From another connection: pg_stat_activity is a snapshot per transaction.
                cursor.execute(
                    """SELECT client_port FROM pg_stat_activity
                        WHERE datname = current_database() AND state = 'active'
                          AND wait_event_type = 'Lock' AND backend_xid IS NOT NULL
                          AND query LIKE 'INSERT INTO "ballots_choice"%'"""
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


def _is_gunicorn(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return b"gunicorn" in handle.read()
    except OSError:
        return False


@dataclass
class PostgresCluster:
    """A throwaway cluster of its own (scripts/postgres.sh), for the test that stops it."""

    root: str
    port: int
    url: str = ""

    def _script(self, action: str) -> str:
        env = {**os.environ, "PGROOT": self.root, "PGPORT": str(self.port), "PGDB": "casevote"}
        result = subprocess.run(  # noqa: S603 - the project's own script
            [str(POSTGRES_SCRIPT), action],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"scripts/postgres.sh {action} failed:\n{result.stderr}")
        return result.stdout.strip()

    def start(self) -> str:
        self.url = self._script("start")
        return self.url

    def stop(self) -> None:
        self._script("stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


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
