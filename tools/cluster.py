"""The site as a real deployment runs it, on this machine (issue #24): PostgreSQL, Redis,
PgBouncer in transaction pooling mode, gunicorn nodes each in a folder of its own, and
nginx round-robin in front. `make cluster` (scripts/cluster.sh) runs `main()`; the cluster
tier (tests/cluster) and `bench/run.py --cluster` use `Cluster`.

It runs deploy/'s files themselves, so that what the tests prove is what an operator
installs: nginx includes deploy/nginx/casevote-log.conf and casevote-proxy.conf,
PgBouncer %includes deploy/pgbouncer/casevote-pool.ini, Redis includes
deploy/redis/casevote.conf. Generated here is only what differs on this machine: ports,
folders, and PgBouncer's trust login.

PostgreSQL and PgBouncer refuse to run as root: as root they run as the postgres user
(su, as scripts/postgres.sh does), as a normal user as that user. Every process started
here is stopped by its pid; every wait is bounded and fails with the part's log tail.
Standard library plus what tools/harness.py uses: no Django in this process.
"""

import argparse
import http.client
import os
import secrets
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import dj_database_url

from tools.harness import (
    GUNICORN,
    LOOPBACK,
    ROOT,
    Gunicorn,
    PostgresCluster,
    app_settings,
    child_pids,
    collect_static,
    connect,
    create_database,
    drop_database,
    free_port,
    manage,
    pg_bin,
    prepare_voting_database,
)

DEPLOY = ROOT / "deploy"
# The binaries the cluster runs and the Debian packages that carry them.
BINARIES = {"redis-server": "redis-server", "pgbouncer": "pgbouncer", "nginx": "nginx"}
# A normal user's PATH often lacks the sbin folders, where pgbouncer and nginx live.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SERVICE_USER = "postgres"  # who runs PostgreSQL and PgBouncer when we are root

START_TIMEOUT = 20  # seconds for one part to answer
STOP_TIMEOUT = 10  # seconds for one part to exit after SIGTERM
COMMAND_TIMEOUT = 60  # seconds for initdb, pg_ctl, su pgbouncer -d
LOG_TAIL = 3000  # characters of a part's log in a failure message
# nginx leaves a node that failed once alone this long: short, so a restarted node
# takes requests again soon (the cluster tier restarts them).
FAIL_TIMEOUT = 5
# The response header, set by the local nginx only, that says which node answered.
UPSTREAM_HEADER = "X-Upstream-Addr"
DEFAULT_PORT = 8080


def find_binary(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path=SYSTEM_PATH)


def missing_packages() -> list[str]:
    """The Debian packages whose binaries the cluster needs and this machine lacks."""
    missing = [package for binary, package in BINARIES.items() if find_binary(binary) is None]
    if pg_bin() is None:
        missing.append("postgresql")
    return missing


def _is_root() -> bool:
    return os.geteuid() == 0


def _as_service_user(command: list[str]) -> list[str]:
    """`command` as the postgres user when we are root (PostgreSQL and PgBouncer refuse
    root), as ourselves otherwise."""
    if _is_root():
        return ["su", SERVICE_USER, "-s", "/bin/bash", "-c", shlex.join(command)]
    return command


def _folder(path: Path, service: bool = False) -> Path:
    """A folder others can traverse (nginx's workers run as nobody under root); owned by
    the postgres user when a service of it writes there."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)
    if service and _is_root():
        shutil.chown(path, SERVICE_USER, SERVICE_USER)
    return path


def _write(path: Path, text: str, service: bool = False) -> Path:
    path.write_text(text)
    path.chmod(0o644)
    if service and _is_root():
        shutil.chown(path, SERVICE_USER, SERVICE_USER)
    return path


def _tail(path: Path) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"({path}: no log)"
    return f"{path}:\n{text[-LOG_TAIL:]}"


def _run(command: list[str], what: str, log: Path | None = None) -> None:
    result = subprocess.run(  # noqa: S603 - Debian's servers and our own scripts
        command,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C reaches us; we stop what this starts
    )
    if result.returncode != 0:
        said = f"{result.stdout}{result.stderr}".strip()
        raise RuntimeError(f"{what} failed: {said}\n{_tail(log) if log else ''}".rstrip())


def _wait(ready: Callable[[], bool], what: str, log: Path, alive: Callable[[], bool]) -> None:
    """Until `ready()`, at most START_TIMEOUT seconds, while `alive()`; else RuntimeError
    with the part's log."""
    deadline = time.monotonic() + START_TIMEOUT
    while not ready():
        if not alive():
            raise RuntimeError(f"{what} exited while starting; {_tail(log)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not answer within {START_TIMEOUT} s; {_tail(log)}")
        time.sleep(0.05)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5):
            return True
    except OSError:
        return False


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie does not)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _signal(pid: int, number: int) -> None:
    try:
        os.kill(pid, number)
    except ProcessLookupError:
        pass


def _stop_pid(pid: int) -> None:
    """SIGTERM, a bounded wait, then SIGKILL (a process that is not our child)."""
    _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        _signal(pid, signal.SIGKILL)


def _spawn(command: list[str], folder: Path, log_path: Path) -> subprocess.Popen:
    """A server in `folder`, in a session of its own, its output appended to `log_path`
    (a restart keeps the earlier lines)."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(  # noqa: S603 - Debian's binaries, our own arguments
            command,
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _stop_process(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    children = child_pids(process.pid)
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)
    for pid in children:
        if _alive(pid):
            _signal(pid, signal.SIGKILL)


def _distinct_free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


@dataclass
class Cluster:
    """PostgreSQL, Redis, PgBouncer (transaction pooling), `node_count` gunicorn nodes
    of `workers_per_node` sync workers, and nginx round-robin in front, in `root`.

    With `database_url` (a PostgreSQL server's URL) the cluster creates a database of its
    own on that server and drops it on stop(); without, it runs a PostgreSQL cluster of
    its own in root/postgres. `port` is nginx's (a free one unless given)."""

    root: Path
    settings: Mapping[str, str] = field(default_factory=dict)
    node_count: int = 2
    workers_per_node: int = 2
    database_url: str = ""
    port: int = 0

    url: str = field(default="", init=False)
    nodes: list[Gunicorn] = field(default_factory=list, init=False)
    direct_database_url: str = field(default="", init=False)
    pooled_database_url: str = field(default="", init=False)
    redis_url: str = field(default="", init=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root).absolute()
        self.settings = dict(self.settings)
        self._secret_key = secrets.token_urlsafe(50)  # one for every node: shared sessions
        self._postgres: PostgresCluster | None = None  # ours, as root
        self._postgres_data: Path | None = None  # ours, as a normal user
        self._database_created = False
        self._redis: subprocess.Popen | None = None
        self._redis_port = 0
        self._pgbouncer_pid = 0
        self._nginx: subprocess.Popen | None = None

    # --- where things are ---------------------------------------------------------------

    def _part(self, name: str) -> Path:
        return self.root / name

    def node_folder(self, index: int) -> Path:
        return self.root / f"node-{index}"

    @property
    def access_log(self) -> Path:
        """nginx's access log: `upstream=<node address>` per request (deploy/nginx)."""
        return self._part("nginx") / "access.log"

    def _log_paths(self) -> dict[str, Path]:
        paths = {
            "postgresql": self._part("postgres") / "server.log",
            "redis": self._part("redis") / "redis.log",
            "pgbouncer": self._part("pgbouncer") / "pgbouncer.log",
            "nginx": self._part("nginx") / "error.log",
            "nginx-output": self._part("nginx") / "output.log",
            "nginx-access": self.access_log,
        }
        for index in range(self.node_count):
            paths[f"node-{index}-earlier"] = self.node_folder(index) / "gunicorn.earlier.log"
            paths[f"node-{index}"] = self.node_folder(index) / "gunicorn.log"
        return paths

    def logs(self) -> dict[str, str]:
        """Each part's log by name (those that exist), for failure messages."""
        return {
            name: path.read_text(errors="replace")
            for name, path in self._log_paths().items()
            if path.exists()
        }

    def node_settings(self, index: int) -> dict[str, str]:
        """The settings node `index` runs with (harness.Gunicorn adds the bind address)."""
        return {
            **app_settings(self.pooled_database_url, secret_key=self._secret_key),
            "ALLOWED_HOSTS": f"{LOOPBACK},localhost",
            "CASEVOTE_SHARED_CACHE_URL": self.redis_url,
            # The nodes believe nginx's X-Forwarded-For (and gunicorn its -Proto).
            "CASEVOTE_TRUSTED_PROXIES": LOOPBACK,
            # One folder both nodes reach, standing for the storage they would share.
            "CASEVOTE_PRIVATE_MEDIA_ROOT": str(self.root / "shared-media"),
            # Uploads spooled to disk stay in the node's own folder.
            "TMPDIR": str(self.node_folder(index) / "tmp"),
            **self.settings,
        }

    # --- start and stop ---------------------------------------------------------------------

    def start(self) -> "Cluster":
        """Everything up, batch 2 loaded, published and open, every node answering
        /healthz through nginx. On failure what started is stopped again."""
        _folder(self.root)
        _folder(self.root / "shared-media")
        self._check_reachable()
        try:
            self._start_postgres()
            self.start_redis()
            self._start_pgbouncer()
            if not (ROOT / "staticfiles" / "staticfiles.json").exists():
                collect_static()  # DEBUG off serves the hashed files of the manifest
            prepare_voting_database(self.node_settings(0))  # through PgBouncer
            self._start_nodes()
            self._start_nginx()
            self._wait_until_nginx_reaches_every_node()
        except BaseException:
            try:
                self.stop()
            except RuntimeError as error:  # the first failure is the one to read
                print(f"[cluster] {error}", file=sys.stderr)
            raise
        return self

    def _check_reachable(self) -> None:
        """As root, PostgreSQL and PgBouncer (postgres) and nginx's workers (nobody) must
        pass through every folder above root: say so now, not as a permission error in
        one of their logs."""
        if not _is_root():
            return
        for folder in self.root.parents:
            if not folder.stat().st_mode & stat.S_IXOTH:
                raise RuntimeError(
                    f"the cluster's folder {self.root} is below {folder}, which the postgres "
                    "and nobody users cannot enter: choose one under the temporary folder"
                )

    def running_parts(self) -> dict[str, bool]:
        """Whether each long-running part this object started still runs."""
        parts = {
            "nginx": self._nginx is not None and self._nginx.poll() is None,
            "Redis": self._redis is not None and self._redis.poll() is None,
            "PgBouncer": bool(self._pgbouncer_pid) and _alive(self._pgbouncer_pid),
        }
        for index, node in enumerate(self.nodes):
            parts[f"node {index}"] = node.process is not None and node.process.poll() is None
        return parts

    def stop(self) -> None:
        """Stop everything started, by pid, nginx first; drop the database created on
        `database_url`'s server. Idempotent; every part is tried even if one fails."""
        failures = []
        steps = [
            ("nginx", self._stop_nginx),
            ("nodes", self._stop_nodes),
            ("PgBouncer", self._stop_pgbouncer),
            ("Redis", self.stop_redis),
            ("PostgreSQL", self._stop_postgres),
        ]
        for name, step in steps:
            try:
                step()
            except Exception as error:  # noqa: BLE001 - said below, after every step
                failures.append(f"{name}: {error}")
        if failures:
            raise RuntimeError("stopping the cluster: " + "; ".join(failures))

    # --- PostgreSQL ---------------------------------------------------------------------------

    def _start_postgres(self) -> None:
        if self.database_url:
            self.direct_database_url = create_database(self.database_url, "casevote_cluster")
            self._database_created = True
        elif _is_root():
            self._postgres = PostgresCluster(root=str(self._part("postgres")), port=free_port())
            self.direct_database_url = self._postgres.start()
        else:
            self.direct_database_url = self._start_own_postgres()

    def _start_own_postgres(self) -> str:
        """scripts/postgres.sh's cluster, run as ourselves (it uses su, which needs root)."""
        folder = _folder(self._part("postgres"))
        data, log, port = folder / "data", folder / "server.log", free_port()
        bin_dir = Path(pg_bin() or "")
        if not (data / "PG_VERSION").exists():
            _run(
                [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]
                + ["-E", "UTF8", "--locale=C.UTF-8"],
                "initdb",
            )
        options = f"-c listen_addresses={LOOPBACK} -p {port} -k {folder}"
        _run(
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-o", options]
            + ["start"],
            "PostgreSQL",
            log,
        )
        self._postgres_data = data
        url = f"postgres://postgres@{LOOPBACK}:{port}/casevote"
        connection = connect(url, dbname="postgres")
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = 'casevote'")
                if cursor.fetchone() is None:
                    cursor.execute("CREATE DATABASE casevote")
        finally:
            connection.close()
        return url

    def _stop_postgres(self) -> None:
        if self._database_created:
            drop_database(self.direct_database_url)
            self._database_created = False
        if self._postgres is not None:
            self._postgres.stop()
            self._postgres = None
        if self._postgres_data is not None:
            pg_ctl = str(Path(pg_bin() or "") / "pg_ctl")
            _run([pg_ctl, "-D", str(self._postgres_data), "-m", "fast", "stop"], "pg_ctl stop")
            self._postgres_data = None

    # --- Redis --------------------------------------------------------------------------------

    def start_redis(self) -> None:
        """Start Redis (the same port every time) and wait until it answers PING."""
        if self._redis is not None and self._redis.poll() is None:
            return
        folder = _folder(self._part("redis"))
        self._redis_port = self._redis_port or free_port()
        self.redis_url = f"redis://{LOOPBACK}:{self._redis_port}/0"
        config = _write(
            folder / "redis.conf",
            "# Generated by tools/cluster.py: deploy/redis/casevote.conf on this machine.\n"
            f'include "{DEPLOY / "redis" / "casevote.conf"}"\n'
            f"port {self._redis_port}\n"
            f"bind {LOOPBACK}\n"
            f'dir "{folder}"\n'
            'logfile ""\n'
            "daemonize no\n",
        )
        log_path = folder / "redis.log"
        self._redis = _spawn([find_binary("redis-server"), str(config)], folder, log_path)
        process = self._redis
        _wait(
            lambda: _redis_answers(self._redis_port),
            "Redis",
            log_path,
            lambda: process.poll() is None,
        )

    def stop_redis(self) -> None:
        """Stop Redis (SIGTERM: it saves nothing, the deploy file turns persistence off)."""
        _stop_process(self._redis)
        self._redis = None

    # --- PgBouncer ----------------------------------------------------------------------------

    def _start_pgbouncer(self) -> None:
        folder = _folder(self._part("pgbouncer"), service=True)
        server = dj_database_url.parse(self.direct_database_url)
        user = server["USER"] or "postgres"
        name = server["NAME"]
        port = free_port()
        target = f"host={server['HOST'] or LOOPBACK} port={server['PORT'] or 5432} dbname={name}"
        target += f" user={user}" + (
            f" password={server['PASSWORD']}" if server["PASSWORD"] else ""
        )
        log_path, pid_path = folder / "pgbouncer.log", folder / "pgbouncer.pid"
        users = _write(folder / "userlist.txt", f'"{user}" ""\n', service=True)
        config = _write(
            folder / "pgbouncer.ini",
            ";; Generated by tools/cluster.py: where to listen and a trust login on this\n"
            ";; machine; the pooling is deploy/pgbouncer/casevote-pool.ini's.\n"
            "[databases]\n"
            f"{name} = {target}\n\n"
            "[pgbouncer]\n"
            f"listen_addr = {LOOPBACK}\n"
            f"listen_port = {port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {users}\n"
            f"admin_users = {user}\n"
            f"logfile = {log_path}\n"
            f"pidfile = {pid_path}\n"
            f"%include {DEPLOY / 'pgbouncer' / 'casevote-pool.ini'}\n",
            service=True,
        )
        # -d: it detaches once listening; its pidfile says which process to stop.
        _run(_as_service_user([find_binary("pgbouncer"), "-d", str(config)]), "PgBouncer", log_path)
        deadline = time.monotonic() + START_TIMEOUT
        while not pid_path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            self._pgbouncer_pid = int(pid_path.read_text().split()[0])
        except (OSError, IndexError, ValueError):
            raise RuntimeError(f"PgBouncer wrote no pidfile; {_tail(log_path)}") from None
        pid = self._pgbouncer_pid
        _wait(lambda: _accepts(port), "PgBouncer", log_path, lambda: _alive(pid))
        self.pooled_database_url = f"postgres://{user}@{LOOPBACK}:{port}/{name}"

    def _stop_pgbouncer(self) -> None:
        # SIGTERM: PgBouncer 1.18 shuts down at once, closing its server connections.
        if self._pgbouncer_pid:
            _stop_pid(self._pgbouncer_pid)
            self._pgbouncer_pid = 0

    # --- gunicorn nodes -----------------------------------------------------------------------

    def _start_nodes(self) -> None:
        ports = _distinct_free_ports(self.node_count)
        for index, port in enumerate(ports):
            folder = _folder(self.node_folder(index))
            _folder(folder / "tmp")
            self.nodes.append(
                Gunicorn(
                    settings=self.node_settings(index),
                    log_path=folder / "gunicorn.log",
                    worker_count=self.workers_per_node,
                    port=port,
                    cwd=folder,
                )
            )
        self._each_node(lambda index: self.nodes[index].start())

    def _each_node(self, action: Callable[[int], object]) -> None:
        """`action(index)` for every node at once (a node takes seconds to boot)."""
        with ThreadPoolExecutor(max_workers=max(1, len(self.nodes))) as pool:
            for result in [pool.submit(action, index) for index in range(len(self.nodes))]:
                result.result()

    def _stop_nodes(self) -> None:
        self._each_node(lambda index: self.nodes[index].stop())

    def kill_node(self, index: int) -> None:
        """SIGKILL node `index`'s master and its workers at once, as a crash would."""
        node = self.nodes[index]
        if node.process is None or node.process.poll() is not None:
            return
        pids = {node.pid, *node.workers()}
        for pid in pids:
            _signal(pid, signal.SIGKILL)
        node.process.wait(timeout=STOP_TIMEOUT)
        deadline = time.monotonic() + STOP_TIMEOUT
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.02)

    def start_node(self, index: int) -> None:
        """Start node `index` again on its port with the current settings; wait until it
        serves. Its earlier log is kept in gunicorn.earlier.log."""
        node = self.nodes[index]
        if node.process is not None and node.process.poll() is None:
            return
        if node.log_path.exists():
            with open(node.log_path.with_name("gunicorn.earlier.log"), "ab") as earlier:
                earlier.write(node.log_path.read_bytes())
        node.settings = self.node_settings(index)
        node.start()

    def restart_nodes(self, settings: Mapping[str, str]) -> None:
        """Stop every node, start them all with these extra settings (replacing the
        earlier extras); wait until each serves."""
        self.settings = dict(settings)
        self._stop_nodes()
        self._each_node(self.start_node)

    # --- nginx --------------------------------------------------------------------------------

    def _start_nginx(self) -> None:
        folder = _folder(self._part("nginx"))
        self.port = self.port or free_port()
        temp = _folder(folder / "tmp")
        servers = "".join(
            f"        server {LOOPBACK}:{node.port} max_fails=1 fail_timeout={FAIL_TIMEOUT}s;\n"
            for node in self.nodes
        )
        temp_paths = "".join(
            f"    {kind}_temp_path {temp / kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        config = _write(
            folder / "nginx.conf",
            "# Generated by tools/cluster.py: ports and folders on this machine; the\n"
            "# proxying and the log format are deploy/nginx's.\n"
            "worker_processes 2;\n"
            f"pid {folder / 'nginx.pid'};\n"
            f"error_log {folder / 'error.log'} notice;\n"
            "daemon off;\n"
            "events { worker_connections 1024; }\n"
            "http {\n"
            f"    include {DEPLOY / 'nginx' / 'casevote-log.conf'};\n"
            f"    access_log {self.access_log} casevote;\n"
            f"{temp_paths}"
            "    upstream casevote {\n"
            f"{servers}"
            "    }\n"
            "    server {\n"
            f"        listen {LOOPBACK}:{self.port};\n"
            "        server_name _;\n"
            "        # Local only: which node answered (the cluster tier reads it).\n"
            f"        add_header {UPSTREAM_HEADER} $upstream_addr always;\n"
            f"        include {DEPLOY / 'nginx' / 'casevote-proxy.conf'};\n"
            "    }\n"
            "}\n",
        )
        output = folder / "output.log"
        nginx = [find_binary("nginx"), "-p", str(folder), "-e", str(folder / "error.log")]
        self._nginx = _spawn([*nginx, "-c", str(config)], folder, output)
        process = self._nginx
        _wait(lambda: _accepts(self.port), "nginx", output, lambda: process.poll() is None)
        self.url = f"http://{LOOPBACK}:{self.port}"

    def _stop_nginx(self) -> None:
        _stop_process(self._nginx)  # SIGTERM: the master stops its workers, then itself
        self._nginx = None

    def _through_nginx(self, path: str) -> tuple[int, str]:
        """(status, the node that answered) for GET `path` through nginx."""
        connection = http.client.HTTPConnection(LOOPBACK, self.port, timeout=5)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            return response.status, response.getheader(UPSTREAM_HEADER, "")
        except (OSError, http.client.HTTPException):
            return 0, ""
        finally:
            connection.close()

    def _wait_until_nginx_reaches_every_node(self) -> None:
        wanted = {f"{LOOPBACK}:{node.port}" for node in self.nodes}
        seen: set[str] = set()

        def every_node_seen() -> bool:
            status, upstream = self._through_nginx("/healthz")
            if status == 200:
                seen.add(upstream)
            return wanted <= seen

        process = self._nginx
        _wait(
            every_node_seen,
            "nginx to every node",
            self._part("nginx") / "error.log",
            lambda: process.poll() is None,
        )

    # --- manage.py ----------------------------------------------------------------------------

    def manage(self, *args: str) -> str:
        """manage.py ARGS with a node's settings (through PgBouncer, on Redis)."""
        return manage(*args, settings=self.node_settings(0))


# --- make cluster ---------------------------------------------------------------------------


def _stop_on_sigterm(signum, frame) -> None:
    raise KeyboardInterrupt


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make cluster",
        description="PostgreSQL, Redis, PgBouncer, gunicorn nodes and nginx, as deploy/ says.",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="nginx's port (8080)")
    parser.add_argument("--nodes", type=int, default=2, help="gunicorn nodes (2)")
    parser.add_argument("--workers", type=int, default=2, help="sync workers per node (2)")
    parser.add_argument("--root", type=Path, help="working folder (emptied first)")
    options = parser.parse_args(argv)

    missing = missing_packages()
    if missing:
        names = " ".join(missing)
        print(f"make cluster needs: {names} (apt-get install -y {names})", file=sys.stderr)
        return 1
    if not GUNICORN.exists():
        print(f"make cluster needs gunicorn ({GUNICORN}): make the virtualenv", file=sys.stderr)
        return 1
    if options.nodes < 1 or options.workers < 1:
        parser.error("--nodes and --workers must be at least 1")
    if _port_taken(options.port):
        print(f"make cluster: port {options.port} is taken; try --port", file=sys.stderr)
        return 1
    root = options.root or Path(tempfile.gettempdir()) / f"casevote-cluster-{options.port}"
    shutil.rmtree(root, ignore_errors=True)

    # Ctrl-C and SIGTERM both stop the cluster (even where SIGINT came in ignored, as in
    # a background job of a script).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    cluster = Cluster(
        root=root, node_count=options.nodes, workers_per_node=options.workers, port=options.port
    )
    status = 0
    try:
        began = time.monotonic()
        print(f"starting PostgreSQL, Redis, PgBouncer, {options.nodes} node(s) and nginx in {root}")
        collect_static()
        cluster.start()
        print(
            f"\n  casevote is running:  {cluster.url}/   (started in {time.monotonic() - began:.1f} s)\n"
            f"  nodes:      {', '.join(node.base_url for node in cluster.nodes)}\n"
            f"  PgBouncer:  {cluster.pooled_database_url}\n"
            f"  PostgreSQL: {cluster.direct_database_url}\n"
            f"  Redis:      {cluster.redis_url}\n"
            f"  logs:       {root}/*/ (nginx/access.log: which node served each request)\n"
            "  stop with Ctrl-C\n",
            flush=True,
        )
        reported: set[str] = set()
        while True:
            time.sleep(1)
            for part, running in cluster.running_parts().items():
                if not running and part not in reported:
                    reported.add(part)
                    print(f"make cluster: {part} exited (its log is in {root})", flush=True)
    except KeyboardInterrupt:
        print("\nstopping the cluster", flush=True)
    except RuntimeError as error:
        print(f"make cluster: {error}", file=sys.stderr)
        status = 1
    finally:
        # A second Ctrl-C must not leave half the cluster running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            cluster.stop()
        except RuntimeError as error:
            print(error, file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
