"""`bench/run.py --cluster`: what one more node buys, through nginx, in one run.

The site as tools/cluster.py deploys it (gunicorn nodes behind nginx, on Redis, PgBouncer
in transaction mode and PostgreSQL), started with one node and then with two, against the
same database (the benchmark's cluster, its seeded ballots included). For each: /healthz,
the campaign page and a case page (bench/get.lua) and the ballot (bench/ballot.lua, one
prepared follower per request, checked against the database afterwards), all through
nginx, with bench/run.py's wrk settings and `--duration` (10 s unless given).

During every timed run (not its first request, warm-up or the ballots' preparation) the
CPU time of each part is read from /proc/<pid>/stat (utime + stime, every SAMPLE_SECONDS,
so processes that come and go are counted too), this run's processes only: gunicorn
(masters and workers), PostgreSQL, PgBouncer, Redis, nginx, wrk and this process. A
part's share is its CPU seconds ÷ (the run's seconds × the cores): where the time goes,
and so where the bottleneck is. PostgreSQL's CPU per ballot is its CPU during the ballot
run ÷ the ballots stored. The estimates for 4 and 8 cores divide the cores by the
server's CPU seconds per request (every part but wrk), as if the work spread over more
cores perfectly: an upper bound, stated as an estimate.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import dj_database_url

from tools import harness

DEFAULT_DURATION = 10
NODE_COUNTS = (1, 2)
ENDPOINTS = ("healthz", "campaign", "case", "ballot")
SAMPLE_SECONDS = 0.5
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# What each process is, from its command line (the first match counts).
PARTS = (
    ("bench", ()),  # this process: its samplers' threads
    ("wrk", ("wrk",)),
    ("gunicorn", ("gunicorn",)),
    ("pgbouncer", ("pgbouncer",)),
    ("redis", ("redis-server",)),
    ("nginx", ("nginx",)),
    ("postgres", ("postgres",)),
)
SERVER_PARTS = ("gunicorn", "postgres", "pgbouncer", "redis", "nginx")
ESTIMATE_CORES = (4, 8)


def part_of(pid: int) -> str | None:
    """Which part of the deployment a process is, or None."""
    if pid == os.getpid():
        return "bench"
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return None
    head = command.split(" ", 1)[0].rsplit("/", 1)[-1]
    for part, names in PARTS:
        if any(name in head or (part == "gunicorn" and name in command) for name in names):
            return part
    return None


def parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def descends_from(pid: int, ancestors: set[int]) -> bool:
    while pid > 1:
        if pid in ancestors:
            return True
        pid = parent(pid)
    return False


def machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of every core since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


class Ownership:
    """Which processes are this run's: the database cluster's (below its postmaster),
    the nodes' gunicorns, nginx and PgBouncer started from the cluster's folder, Redis on
    the cluster's port, and wrk started from here. Other work on the machine is left out
    (and shows as `other`)."""

    def __init__(self, pg_root: str, cluster):
        try:
            postmaster = int(Path(pg_root, "data", "postmaster.pid").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            postmaster = 0
        self.roots = {
            "postgres": {postmaster},
            "gunicorn": {node.pid for node in cluster.nodes if node.process is not None},
            "wrk": {os.getpid()},
        }
        self.marks = {
            "nginx": str(cluster.root),
            "pgbouncer": str(cluster.root),
            "redis": ":" + cluster.redis_url.rsplit(":", 1)[-1].split("/", 1)[0],
        }

    def __call__(self, pid: int, part: str) -> bool:
        if part == "bench":
            return True
        if part in self.roots:
            return descends_from(pid, self.roots[part])
        mark = self.marks[part]
        while pid > 1:  # nginx's workers: their master's command line names the folder
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                return False
            if mark in command.decode(errors="replace"):
                return True
            pid = parent(pid)
        return False


def cpu_ticks(pid: int) -> int | None:
    """utime + stime of a process, in clock ticks (None once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state is fields[0]
    return int(fields[11]) + int(fields[12])


class CpuSampler(threading.Thread):
    """The CPU time every part of the deployment spends during a run."""

    def __init__(self, owned: Callable[[int, str], bool]):
        super().__init__(daemon=True)
        self.owned = owned
        self.machine_first = machine_ticks()
        self.first: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self.parts: dict[int, str] = {}
        self.halt = threading.Event()
        self.sample(baseline=True)
        self.started = time.monotonic()

    def sample(self, baseline: bool = False) -> None:
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            if pid not in self.parts:
                part = part_of(pid)
                if part is None or not self.owned(pid, part):
                    self.parts[pid] = ""
                    continue
                self.parts[pid] = part
            if not self.parts[pid]:
                continue
            ticks = cpu_ticks(pid)
            if ticks is None:
                continue
            # A process born during the run spent all its CPU time in it.
            self.first.setdefault(pid, ticks if baseline else 0)
            self.last[pid] = ticks

    def run(self) -> None:
        while not self.halt.wait(SAMPLE_SECONDS):
            self.sample()

    def stop(self) -> dict:
        self.halt.set()
        self.join()
        self.sample()
        seconds = time.monotonic() - self.started
        cpu = dict.fromkeys([part for part, _ in PARTS], 0.0)
        for pid, part in self.parts.items():
            if part:
                cpu[part] += (self.last.get(pid, 0) - self.first.get(pid, 0)) / CLOCK_TICKS
        busy, total = (b - a for a, b in zip(self.machine_first, machine_ticks(), strict=True))
        cores = os.cpu_count() or 1
        ours = sum(cpu.values()) / (seconds * cores)
        machine_busy = busy / total if total else 0.0
        return {
            "seconds": round(seconds, 2),
            "cpu_seconds": {part: round(value, 2) for part, value in cpu.items()},
            "share": {part: round(value / (seconds * cores), 3) for part, value in cpu.items()},
            "other_share": round(max(0.0, machine_busy - ours), 3),
            "idle_share": round(max(0.0, 1 - machine_busy), 3),
        }


class Timed:
    """CPU sampling around the timed wrk run only (not the first request, the warm-up or
    the ballots' preparation): `around` for bench/run.py's `measure`."""

    def __init__(self, owned: Callable[[int, str], bool]):
        self.owned = owned
        self.cpu: dict = {}

    @contextmanager
    def __call__(self) -> Iterator[None]:
        sampler = CpuSampler(self.owned)
        sampler.start()
        try:
            yield
        finally:
            self.cpu = sampler.stop()


class Through:
    """What bench/run.py's `measure` needs of a server, for nginx in front of the nodes:
    its address, and the workers' memory of every node."""

    def __init__(self, cluster):
        self.cluster = cluster

    @property
    def base_url(self) -> str:
        return self.cluster.url.rstrip("/")

    def worker_memory(self) -> dict[int, tuple[int, int]]:
        memory = {}
        for node in self.cluster.nodes:
            try:
                memory |= node.worker_memory()
            except RuntimeError:  # a node that is not running
                pass
        return memory


@dataclass
class ClusterRun:
    endpoint: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    cpu: dict
    cpu_ms_per_request: dict = field(default_factory=dict)  # by part
    ballots_stored: int | None = None
    postgres_cpu_ms_per_ballot: float | None = None
    check: str | None = None


def measure_nodes(
    node_count: int,
    cluster_class,
    options,
    settings: dict[str, str],
    database_url: str,
    batch_id: int,
    run_id: str,
    log: Callable[[str], None],
) -> dict:
    """One deployment of `node_count` nodes: every endpoint through nginx, with CPU."""
    from bench import run

    root = run.WORK_DIR / f"cluster-{node_count}"
    cluster = cluster_class(
        root,
        settings=settings,
        node_count=node_count,
        workers_per_node=options.workers,
        database_url=database_url,
    )
    log(f"cluster: starting {node_count} node(s) × {options.workers} workers behind nginx")
    cluster.start()
    from django.db import connection

    own_name = connection.settings_dict["NAME"]
    try:
        # The cluster migrated and loaded a database of its own on the same server:
        # the ballots' followers are prepared, and their ballots checked, in it.
        connection.close()
        connection.settings_dict["NAME"] = dj_database_url.parse(cluster.direct_database_url)[
            "NAME"
        ]
        from cases.models import Batch

        batch_id = Batch.objects.get(number=run.BATCH_NUMBER).pk
        server = Through(cluster)
        owned = Ownership(options.pg_root, cluster)
        plan = run.endpoints(batch_id, "")
        runs: dict[str, ClusterRun] = {}
        healthz_rps = 0.0
        for name in ENDPOINTS:
            log(f"  {node_count} node(s): {plan[name].label} for {options.duration} s")
            timed = Timed(owned)
            stored = check = None
            if name == "ballot":
                measured, _prepared, checked = run.ballot_run(
                    server, options, batch_id, healthz_rps, f"{run_id}-n{node_count}", timed
                )
                stored, check = checked.stored, checked.message
            else:
                measured = run.measure(server, plan[name], options, around=timed)
            cpu = timed.cpu
            if name == "healthz":
                healthz_rps = measured.rps
            requests = stored if name == "ballot" else measured.requests
            per_request = {
                part: round(seconds / requests * 1000, 3) if requests else None
                for part, seconds in cpu["cpu_seconds"].items()
            }
            runs[name] = ClusterRun(
                endpoint=name,
                rps=measured.rps,
                p50_ms=measured.p50_ms,
                p99_ms=measured.p99_ms,
                errors=measured.errors,
                requests=measured.requests,
                cpu=cpu,
                cpu_ms_per_request=per_request,
                ballots_stored=stored,
                postgres_cpu_ms_per_ballot=per_request["postgres"] if name == "ballot" else None,
                check=check,
            )
            log(
                f"    {measured.rps:.1f} req/s, p99 {measured.p99_ms:.1f} ms, "
                f"{measured.errors} errors; CPU "
                + ", ".join(f"{p} {s:.0%}" for p, s in cpu["share"].items() if s >= 0.005)
                + (f"; {check}" if check else "")
            )
    finally:
        connection.close()
        connection.settings_dict["NAME"] = own_name
        cluster.stop()
    return {"nodes": node_count, "runs": {name: asdict(r) for name, r in runs.items()}}


def bottleneck(runs: dict) -> dict:
    """Per endpoint: the part with the largest CPU share, and the machine's idle share."""
    result = {}
    for name, measured in runs.items():
        share = measured["cpu"]["share"]
        top = max(share, key=share.get)
        result[name] = {"part": top, "share": share[top], "idle": measured["cpu"]["idle_share"]}
    return result


def estimate(runs: dict) -> dict:
    """req/s on 4 and 8 cores if the server's CPU per request stayed as measured and
    spread over the cores perfectly: cores ÷ CPU seconds per request (wrk left out)."""
    result = {}
    for name, measured in runs.items():
        per_request = measured["cpu_ms_per_request"]
        server_ms = sum(per_request[part] or 0 for part in SERVER_PARTS)
        if not server_ms:
            continue
        result[name] = {
            "server_cpu_ms_per_request": round(server_ms, 3),
            **{f"rps_{cores}_cores": round(cores * 1000 / server_ms) for cores in ESTIMATE_CORES},
        }
    return result


def benchmark_cluster(options, log: Callable[[str], None]) -> int:
    """--cluster: one node, then two, same database, same run; results.json's `cluster`."""
    from bench import run

    try:
        from tools.cluster import Cluster
    except ImportError:
        raise SystemExit(
            "--cluster needs tools/cluster.py (the nginx/PgBouncer/Redis cluster)"
        ) from None
    started = time.monotonic()
    run.WORK_DIR.mkdir(parents=True, exist_ok=True)
    run_id = time.strftime("%Y%m%d%H%M%S")
    database = harness.PostgresCluster(root=options.pg_root, port=options.pg_port)
    try:
        log(f"starting PostgreSQL (own cluster in {database.root}, port {database.port})")
        database_url = database.start()
        env = run.server_env(database_url, options)
        run.setup_django(env)
        log("migrate, collectstatic, load batch 2, open voting, results live")
        batch_id = run.prepare_site(env)
        from django.db import connections

        connections.close_all()
        # The site's settings as the benchmark runs it; the cluster sets the database
        # (through PgBouncer), the shared cache (Redis) and the bind addresses.
        settings = {
            key: value
            for key, value in env.items()
            if key not in {"DATABASE_URL", "GUNICORN_BIND", "GUNICORN_WORKERS"}
            and key != "CASEVOTE_SHARED_CACHE_DIR"
        }
        deployments = [
            measure_nodes(n, Cluster, options, settings, database_url, batch_id, run_id, log)
            for n in NODE_COUNTS
        ]
    finally:
        from django.db import connections

        connections.close_all()
        log("stopping PostgreSQL")
        database.stop()
    report = cluster_report(deployments, options, time.monotonic() - started)
    print_cluster(report)
    results = json.loads(run.RESULTS_FILE.read_text()) if run.RESULTS_FILE.exists() else {}
    results["cluster"] = report
    run.RESULTS_FILE.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    log(f"wrote the cluster figures into {run.RESULTS_FILE.relative_to(run.REPO)}")
    return 0


def cluster_report(deployments: list[dict], options, seconds: float) -> dict:
    from bench import run

    by_nodes = {str(d["nodes"]): d for d in deployments}
    one, two = by_nodes.get("1"), by_nodes.get("2")
    gain = {}
    if one and two:
        for name in ENDPOINTS:
            a, b = one["runs"].get(name), two["runs"].get(name)
            if a and b and a["rps"]:
                gain[name] = round(b["rps"] / a["rps"], 3)
    return {
        "machine": {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "nproc": os.cpu_count(),
            "git_commit": run.git_commit(),
            "loadavg_at_start": run.LOADAVG_AT_START,
        },
        "options": {
            "duration": options.duration,
            "connections": options.connections,
            "threads": options.threads,
            "workers_per_node": options.workers,
        },
        "deployments": by_nodes,
        "two_over_one": gain,
        "bottleneck": {n: bottleneck(d["runs"]) for n, d in by_nodes.items()},
        "estimate": {n: estimate(d["runs"]) for n, d in by_nodes.items()},
        "seconds": round(seconds, 1),
    }


def print_cluster(report: dict) -> None:
    header = (
        f"{'through nginx':<22}{'nodes':>6}{'req/s':>9}{'p99 ms':>9}{'errors':>8}"
        "  CPU share: gunicorn / postgres / pgbouncer / redis / nginx / wrk+bench / other / idle"
    )
    print()
    print(header)
    print("-" * len(header))
    for nodes, deployment in report["deployments"].items():
        for name, measured in deployment["runs"].items():
            share = measured["cpu"]["share"]
            parts = " / ".join(
                f"{share[p]:.0%}" for p in ("gunicorn", "postgres", "pgbouncer", "redis", "nginx")
            )
            print(
                f"{name:<22}{nodes:>6}{measured['rps']:>9.1f}{measured['p99_ms']:>9.1f}"
                f"{measured['errors']:>8}  {parts} / {share['wrk'] + share['bench']:.0%} / "
                f"{measured['cpu']['other_share']:.0%} / {measured['cpu']['idle_share']:.0%}"
            )
    for name, gain in report["two_over_one"].items():
        print(f"  two nodes ÷ one, {name}: {gain:.2f}×")
    for nodes, deployment in report["deployments"].items():
        ballot = deployment["runs"].get("ballot")
        if ballot and ballot["postgres_cpu_ms_per_ballot"] is not None:
            print(
                f"  {nodes} node(s): PostgreSQL CPU {ballot['postgres_cpu_ms_per_ballot']:.2f} ms"
                f" per stored ballot ({ballot['ballots_stored']} stored; {ballot['check']})"
            )
    print(f"  --cluster took {report['seconds']:.0f} s\n", flush=True)
