"""The site as production runs it, on this machine: for the benchmark and the load tier.

Both need the same things: a PostgreSQL cluster of their own (scripts/postgres.sh), a
database on it, manage.py with production settings, `gunicorn -c gunicorn.conf.py` on a
free loopback port (or on every address, `[::]`, for the dual-stack test) with its worker pids, a wait until every worker answers, and the
workers' memory. One copy here, so that the figures in bench/results.json and the load
tier's assertions are about the same server, started the same way.

Standard library plus psycopg2 and dj_database_url (both in requirements.txt): no pytest
and no Django in this process, so `bench/run.py` can use it as a script. Every request goes
to 127.0.0.1, every wait is bounded, and every process started here is stopped by its own
pid.
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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
import psycopg2

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
POSTGRES_SCRIPT = ROOT / "scripts" / "postgres.sh"
LOOPBACK = "127.0.0.1"

COMMAND_TIMEOUT = 120  # seconds for one manage.py / postgres.sh call
BOOT_TIMEOUT = 30  # seconds for gunicorn to answer with all its workers
STOP_TIMEOUT = 25  # gunicorn's graceful_timeout is 20 s
WORKERS = 2  # gunicorn.conf.py's default: what production runs on two cores

# Settings the caller's shell may carry that would change the app under test; a run
# starts from the environment without them and sets what it means to set.
_APP_VARIABLE_PREFIXES = ("CASEVOTE_", "GUNICORN_", "SECURE_", "DJANGO_")
_APP_VARIABLES = {
    "ALLOWED_HOSTS",
    "CONN_MAX_AGE",
    "CSRF_COOKIE_SECURE",
    "CSRF_TRUSTED_ORIGINS",
    "DATABASE_URL",
    "DEBUG",
    "LOG_LEVEL",
    "SECRET_KEY",
    "SESSION_COOKIE_SECURE",
}

_database_numbers = itertools.count(1)


def _run(command: list[str], env: Mapping[str, str], what: str) -> str:
    """One of the project's own commands, to completion; its output, or RuntimeError
    with everything it said."""
    result = subprocess.run(  # noqa: S603 - our own interpreter, manage.py and scripts
        command,
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{result.stdout}{result.stderr}".rstrip())
    return result.stdout


def free_port(host: str = LOOPBACK) -> int:
    """A port nobody listens on right now at `host` (an IPv6 host such as "::" takes
    an IPv6 socket: on Linux a port free on [::] is free for IPv4 too)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def bind_address(host: str, port: int) -> str:
    """gunicorn's --bind for `host`: IPv6 hosts in brackets ("[::]:8000")."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# --- PostgreSQL ---------------------------------------------------------------------------


def pg_bin() -> str | None:
    """The newest installed PostgreSQL's bin directory, or None when there is none."""
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: (len(d), d))  # 9 < 15
    return dirs[-1] if dirs else None


@dataclass
class PostgresCluster:
    """A throwaway cluster of its own in `root`, through scripts/postgres.sh (which runs it
    as the postgres user: needs root), with a database `db` on 127.0.0.1:`port`."""

    root: str
    port: int
    db: str = "casevote"
    url: str = ""

    def _script(self, action: str) -> str:
        env = {**os.environ, "PGROOT": self.root, "PGPORT": str(self.port), "PGDB": self.db}
        return _run([str(POSTGRES_SCRIPT), action], env, f"scripts/postgres.sh {action}").strip()

    def start(self) -> str:
        """Start it (idempotent), create the database if missing; returns its URL."""
        self.url = self._script("start")
        return self.url

    def stop(self) -> None:
        self._script("stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def with_database_name(url: str, name: str) -> str:
    return urlsplit(url)._replace(path="/" + name).geturl()


def connect(url: str, dbname: str | None = None):
    """An autocommit psycopg2 connection to `url` (or to another database on its server)."""
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


def _on_server(url: str, *statements: str) -> None:
    """Run statements on the server of `url` from its maintenance database."""
    connection = connect(url, dbname="postgres")
    try:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        connection.close()


def create_database(server_url: str, prefix: str = "casevote_load") -> str:
    """A fresh, empty database on the server of `server_url`; returns its URL."""
    name = f"{prefix}_{os.getpid()}_{next(_database_numbers)}"
    return recreate_database(with_database_name(server_url, name))


def recreate_database(url: str) -> str:
    """The database of `url`, dropped if it exists and created empty; returns `url`."""
    name = dj_database_url.parse(url)["NAME"]
    _on_server(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    return url


def drop_database(url: str) -> None:
    """Drop the database of `url`, closing its connections; nothing if it is missing."""
    name = dj_database_url.parse(url)["NAME"]
    _on_server(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- The app's settings and manage.py -----------------------------------------------------


def app_settings(database_url: str, secret_key: str | None = None) -> dict[str, str]:
    """Production settings (DEBUG off, casevote/settings.py's defaults otherwise), plain
    http on loopback. Callers add what their run changes (budgets, proxies, ...)."""
    return {
        "DJANGO_SETTINGS_MODULE": "casevote.settings",
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECRET_KEY": secret_key or secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": LOOPBACK,
        "SECURE_SSL_REDIRECT": "0",
        "CASEVOTE_SECURE_COOKIES": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        # The local follow gate, as a demonstration: tests and benchmarks mint their voters.
        "CASEVOTE_DEMO_GATE": "1",
    }


def process_environment(settings: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without the app's variables, plus `settings`: a
    CASEVOTE_... left in the caller's shell must not change what is measured."""
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(_APP_VARIABLE_PREFIXES) and key not in _APP_VARIABLES
    }
    return {**clean, **settings}


def manage(*args: str, settings: Mapping[str, str] | None = None) -> str:
    """`manage.py ARGS` in its own process; returns its output or raises RuntimeError
    with it. Without `settings`, production settings on a database nobody uses (for
    commands that need none, like collectstatic)."""
    environment = process_environment(settings or app_settings("sqlite:///unused"))
    return _run([sys.executable, "manage.py", *args], environment, f"manage.py {' '.join(args)}")


def prepare_voting_database(settings: Mapping[str, str]) -> str:
    """What an operator does: migrate, load batch 2, publish it, open it for voting now
    for 30 days.
    Returns what set_voting says (the voting window)."""
    manage("migrate", "--noinput", "-v0", settings=settings)
    manage("load_cases", "fixtures/batch2.json", "-v0", settings=settings)
    manage("publish_batch", "--batch", "2", "--reason", "bench: publish batch 2", settings=settings)
    return manage("set_voting", "--batch", "2", "--open-now", "--days", "30", settings=settings)


def collect_static(settings: Mapping[str, str] | None = None) -> None:
    """DEBUG off serves hashed files through whitenoise's manifest: collect them first."""
    manage("collectstatic", "--noinput", "-v0", settings=settings)


# --- gunicorn -------------------------------------------------------------------------------


def child_pids(parent: int) -> set[int]:
    """Live processes whose parent is `parent` (gunicorn's workers of a master); this
    kernel has no /proc/<pid>/task/<pid>/children."""
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


def memory_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in kB, or (0, 0) if it is gone."""
    values = {"VmRSS": 0, "VmHWM": 0}
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                name, _, rest = line.partition(":")
                if name in values:
                    values[name] = int(rest.split()[0])
    except OSError:
        pass
    return values["VmRSS"], values["VmHWM"]


def _is_gunicorn(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return b"gunicorn" in handle.read()
    except OSError:
        return False


@dataclass
class Gunicorn:
    """`gunicorn -c gunicorn.conf.py` with `settings` (see app_settings) and
    `worker_count` sync workers on a loopback port (a free one unless given).

    `host` is where it listens: 127.0.0.1, or "::" for every address of both families
    (dual-stack: IPv4 peers then reach the app as ::ffff:a.b.c.d). Requests from here
    always go to 127.0.0.1. `app` serves another WSGI application with the same gunicorn
    settings (the benchmark's anchor project, bench/anchors); `ready_path` is the page
    that must answer 200 before the server counts as up."""

    settings: Mapping[str, str]
    log_path: Path
    worker_count: int = WORKERS
    port: int = 0
    app: str = ""  # "module:callable"; empty: gunicorn.conf.py's wsgi_app (the site)
    ready_path: str = "/healthz"
    process: subprocess.Popen | None = None
    host: str = LOOPBACK
    # The process's working directory (a cluster node's own folder); the code is found
    # through --pythonpath. None: the repository, as the load tier and the benchmark run.
    cwd: Path | None = None

    def start(self) -> "Gunicorn":
        """Start it and wait until every worker is up and `ready_path` answers."""
        self.port = self.port or free_port(self.host)
        env = process_environment(
            {
                **self.settings,
                "GUNICORN_BIND": bind_address(self.host, self.port),
                "GUNICORN_WORKERS": str(self.worker_count),
                "GUNICORN_THREADS": "1",
            }
        )
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(  # noqa: S603 - the venv's gunicorn
            # No control socket: it would be the shared $HOME/.gunicorn/gunicorn.ctl.
            [
                str(GUNICORN),
                "-c",
                str(ROOT / "gunicorn.conf.py") if self.cwd else "gunicorn.conf.py",
            ]
            + ["--no-control-socket"]
            + (["--pythonpath", str(ROOT)] if self.cwd else [])
            + ([self.app] if self.app else []),
            cwd=self.cwd or ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches the caller, which stops gunicorn
        )
        log.close()
        self.wait_until_serving(BOOT_TIMEOUT)
        return self

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("gunicorn was not started")
        return self.process.pid

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def database_url(self) -> str:
        return self.settings["DATABASE_URL"]

    def workers(self) -> set[int]:
        return child_pids(self.pid)

    def worker_memory(self) -> dict[int, tuple[int, int]]:
        """Each live worker's (VmRSS, VmHWM) in kB."""
        found = {pid: memory_kb(pid) for pid in self.workers()}
        return {pid: memory for pid, memory in found.items() if memory[0]}

    def answers(self, path: str | None = None) -> bool:
        connection = http.client.HTTPConnection(LOOPBACK, self.port, timeout=5)
        try:
            connection.request("GET", path or self.ready_path)
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
            if len(self.workers()) == self.worker_count and self.answers():
                return
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not serve within {timeout} s:\n{self.log()[-3000:]}")

    def wait_for_workers(self, excluding: set[int], timeout: float) -> set[int] | None:
        """Wait until the master runs all its workers, none of them in `excluding`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            workers = self.workers()
            if len(workers) == self.worker_count and not workers & excluding:
                return workers
            time.sleep(0.05)
        return None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        """SIGTERM and a graceful wait, then SIGKILL; workers left behind are killed too."""
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
