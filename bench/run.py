"""casevote benchmark: production settings, PostgreSQL, gunicorn, wrk — in one run.

    .venv/bin/python bench/run.py              # full run: 15 s per endpoint, 1M ballots
    .venv/bin/python bench/run.py --quick      # 3 s per endpoint, 20k ballots (smoke test)

What it does (see bench/README.md for how to read the figures):
1. starts its own PostgreSQL cluster (PGROOT=/tmp/casevote-bench-pg, port 55433; see
   --pg-root and --pg-port), migrates,
   collects static files, loads batch 2, opens it for 30 days, makes results live;
2. seeds `--ballots` back-dated ballots with bulk SQL (bench/seed.sql), outside the
   timing and only what the database does not hold yet;
3. starts `gunicorn -c gunicorn.conf.py` on 127.0.0.1 with DEBUG off;
4. measures each endpoint with wrk for a fixed duration, sampling the workers' RSS;
   the ballot run posts one ballot per pre-created follower and is checked against
   the database afterwards;
5. measures the anchors (bench/anchors: plain Django under the same gunicorn settings,
   in their own database on the same cluster) right after the runs they anchor: a bare
   view after /healthz, the tutorial's list after the campaign page, the tutorial's vote
   after the ballot; every casevote figure is also given as a ratio to them;
6. prints a table with the targets and writes bench/results.json.

gunicorn and the cluster are stopped on the way out, whatever happens. Loopback only;
every load run has a fixed duration. Not part of the test suite. The cluster, manage.py,
gunicorn and the workers' memory come from tools/harness.py, which the load tier
(tests/load/) uses too.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import math
import os
import platform
import random
import re
import secrets
import shutil
import signal
import string
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from http.cookiejar import CookieJar
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as bench/run.py: the site's apps and tools/ live there

from bench import ballot_indexes, cluster, detector_growth  # noqa: E402
from tools import harness  # noqa: E402

BENCH = REPO / "bench"
RESULTS_FILE = BENCH / "results.json"
# Fixed paths on purpose: one benchmark at a time (the lock), throwaway loopback data.
WORK_DIR = Path("/tmp/casevote-bench-run")  # noqa: S108 (logs, ballots file)
LOCK_FILE = Path("/tmp/casevote-bench.lock")  # noqa: S108
# The cluster's default place: where the seeded ballots of earlier runs are kept.
PG_ROOT = "/tmp/casevote-bench-pg"  # noqa: S108
PG_PORT = 55433

FULL_DURATION = 15
QUICK_DURATION = 3
FULL_BALLOTS = 1_000_000
QUICK_BALLOTS = 20_000
SEED_CHUNK = 100_000
SEED_BACKEND = "bench-seed"
BATCH_NUMBER = 2
CASE_PAGE = "/cases/031/"
POSTER = "/cases/031/poster.png"
RSS_SAMPLE_SECONDS = 0.2
SETTLE_SECONDS = 2  # after the ballot run, before counting: let in-flight requests finish
# Followers prepared for the ballot run: enough for 0.6× healthz throughput (twice the
# target). Running out is reported ("exhausted"): the throughput is then understated.
BALLOT_HEADROOM = 0.6
MAX_PREPARED_BALLOTS = 250_000

# Targets (printed as PASS/MISS; a miss does not fail the run).
CAMPAIGN_MIN_RATIO = 0.8
BALLOT_MIN_RATIO = 0.3
BALLOT_MAX_P99_MS = 100
RESULTS_MAX_P99_MS = 100
POSTER_MAX_P99_MS = 100  # once drawn (the first request, "first ms", draws it)
MAX_WORKER_RSS_MB = 120
# Against the anchors (plain Django in the same run, bench/anchors).
HEALTHZ_MIN_BARE = 0.85  # /healthz ÷ the bare Django view
CAMPAIGN_MIN_BARE = 0.7  # campaign page ÷ the bare Django view
BALLOT_MIN_TUTORIAL = 1.5  # ballot ÷ the tutorial vote, with p99 < BALLOT_MAX_P99_MS

USER_AGENTS = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.44(0x18002c2d) NetType/4G Language/zh_CN",
    "Mozilla/5.0 (Linux; Android 13; V2227A Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 MicroMessenger/8.0.47.2560(0x28002F35) NetType/WIFI Language/zh_CN",
    "Mozilla/5.0 (Linux; Android 12; PGBM10 Build/SP1A.210812.016; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/111.0.5563.116 Mobile Safari/537.36 MicroMessenger/8.0.42.2460(0x28002A3B) NetType/5G Language/zh_CN",
    "Mozilla/5.0 (Linux; Android 14; ALN-AL00 Build/HUAWEIALN-AL00; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/122.0.6261.120 Mobile Safari/537.36 MicroMessenger/8.0.49.2600(0x28003133) NetType/WIFI Language/zh_CN",
    "Mozilla/5.0 (Linux; Android 13; 22081212C Build/TKQ1.220829.002; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 MicroMessenger/8.0.47.2560(0x28002F35) NetType/4G Language/zh_CN",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.49(0x18003137) NetType/5G Language/zh_CN",
    "Mozilla/5.0 (Linux; Android 11; M2012K11AC Build/RKQ1.200826.002; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/107.0.5304.141 Mobile Safari/537.36 MicroMessenger/8.0.40.2420(0x28002837) NetType/WIFI Language/zh_CN",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; U; Android 12; zh-cn; M2012K11AC Build/SKQ1.211006.001) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/100.0.4896.127 Mobile Safari/537.36 XiaoMi/MiuiBrowser/17.8.60",
    "Mozilla/5.0 (Linux; Android 13; ANA-AN00) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/99.0.4844.88 Mobile Safari/537.36 HuaweiBrowser/14.0.4.302",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0.0.0 Safari/537.36 WindowsWechat(0x63090819) XWEB/8447",
]


# --- Options ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    duration: int
    ballots: int
    connections: int
    threads: int
    workers: int
    port: int
    warmup: int
    endpoints: tuple[str, ...]
    reset: bool
    quick: bool
    ablation: bool
    pg_root: str
    pg_port: int
    anchors: bool = True
    detector_sizes: tuple[int, ...] = ()  # bench/detector_growth.py
    detector_only: bool = False
    index_ballots: int = 0  # bench/ballot_indexes.py: ballots per chunk, 0 for none
    index_only: bool = False
    cluster: bool = False  # bench/cluster.py: one node and two through nginx


ENDPOINTS = ("healthz", "campaign", "case", "poster", "ballot", "results", "monitoring")
# The caches a setting turns off, and the endpoints that show what each one is worth:
# CASEVOTE_PAGE_CACHE_SECONDS=0 turns off the whole-page cache (campaign, case, results)
# and the per-worker catalogue (ballot); CASEVOTE_RESULTS_CACHE_SECONDS=0 the shared count.
CACHES_OFF = {"CASEVOTE_PAGE_CACHE_SECONDS": "0", "CASEVOTE_RESULTS_CACHE_SECONDS": "0"}
ABLATED = ("campaign", "case", "ballot", "results")


def parse_args(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 s per endpoint, 20k ballots")
    parser.add_argument("--duration", type=int, help="seconds per endpoint (default 15)")
    parser.add_argument("--ballots", type=int, help="ballots stored for /results/ (1,000,000)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (1: 2 cores)")
    parser.add_argument("--workers", type=int, default=2, help="GUNICORN_WORKERS (2)")
    parser.add_argument("--port", type=int, default=0, help="gunicorn port (default: a free one)")
    parser.add_argument("--warmup", type=int, help="untimed seconds before a GET run (2; 1 quick)")
    parser.add_argument(
        "--endpoints",
        default=",".join(ENDPOINTS),
        help=f"comma-separated subset of {','.join(ENDPOINTS)} (healthz always runs)",
    )
    parser.add_argument(
        "--reset", action="store_true", help="drop the benchmark database first (re-seeds)"
    )
    parser.add_argument(
        "--no-ablation",
        action="store_true",
        help="skip the second pass with the caches turned off",
    )
    parser.add_argument(
        "--no-anchors",
        action="store_true",
        help="skip the plain-Django anchors (bench/anchors) and the ratios to them",
    )
    parser.add_argument(
        "--pg-root",
        default=PG_ROOT,
        help=f"the PostgreSQL cluster's directory ({PG_ROOT}: keeps the seeded ballots)",
    )
    parser.add_argument(
        "--pg-port", type=int, default=PG_PORT, help=f"the cluster's port ({PG_PORT})"
    )
    parser.add_argument(
        "--detector-sizes",
        help="detect_brushing --store at these ballot counts, each in a database of its own "
        f"(default {detector_growth.FULL_SIZES}; none with --quick); see bench/detector_growth.py",
    )
    parser.add_argument(
        "--detector-only", action="store_true", help="only the detector's growth, no HTTP runs"
    )
    parser.add_argument(
        "--index-ballots",
        type=int,
        help="ballots per chunk for the ballot table's index cost, with today's indexes and "
        f"with those dropped (default {ballot_indexes.FULL_BALLOTS}, "
        f"{ballot_indexes.QUICK_BALLOTS} quick; 0 for none); see bench/ballot_indexes.py",
    )
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="one node, then two, behind nginx on Redis and PgBouncer (tools/cluster.py): "
        f"req/s, CPU by part, the bottleneck ({cluster.DEFAULT_DURATION} s per run unless "
        "--duration); see bench/cluster.py",
    )
    parser.add_argument(
        "--index-only",
        action="store_true",
        help="only the ballot table's index cost (seeding first), no HTTP runs",
    )
    args = parser.parse_args(argv)
    endpoints = tuple(e.strip() for e in args.endpoints.split(",") if e.strip())
    unknown = sorted(set(endpoints) - set(ENDPOINTS))
    if unknown:
        parser.error(f"unknown endpoints: {', '.join(unknown)}")
    default_duration = cluster.DEFAULT_DURATION if args.cluster else FULL_DURATION
    duration = args.duration or (QUICK_DURATION if args.quick else default_duration)
    ballots = (
        args.ballots
        if args.ballots is not None
        else (QUICK_BALLOTS if args.quick else FULL_BALLOTS)
    )
    if duration < 1 or ballots < 0 or args.connections < 1 or args.threads < 1:
        parser.error("--duration, --connections and --threads must be positive")
    return Options(
        duration=duration,
        ballots=ballots,
        connections=args.connections,
        threads=args.threads,
        workers=args.workers,
        port=args.port or harness.free_port(),
        warmup=args.warmup if args.warmup is not None else (1 if args.quick else 2),
        endpoints=("healthz", *(e for e in ENDPOINTS[1:] if e in endpoints)),
        reset=args.reset,
        quick=args.quick,
        ablation=not args.no_ablation,
        pg_root=args.pg_root,
        pg_port=args.pg_port,
        anchors=not (args.no_anchors or args.index_only),
        detector_sizes=(
            () if args.index_only else detector_growth.sizes_option(args.detector_sizes, args.quick)
        ),
        detector_only=args.detector_only,
        index_ballots=ballot_indexes.option(args.index_ballots, args.quick),
        index_only=args.index_only,
        cluster=args.cluster,
    )


STARTED = time.monotonic()
LOADAVG_AT_START = Path("/proc/loadavg").read_text().split()[:3]


def log(message: str) -> None:
    print(f"[bench {time.monotonic() - STARTED:6.1f}s] {message}", flush=True)


# --- Tools: wrk and PostgreSQL -----------------------------------------------------------


def ensure_package(command: str, package: str) -> None:
    """Install a Debian package when its command is missing and we may (root)."""
    if shutil.which(command) or (command == "pg_ctl" and harness.pg_bin() is not None):
        return
    if os.geteuid() != 0:
        sys.exit(f"{command} is missing: apt-get install -y {package}")
    log(f"installing {package} (apt-get)")
    install = ["apt-get", "install", "-y", "-qq", package]
    if subprocess.run(install, check=False).returncode != 0:  # noqa: S603
        subprocess.run(["apt-get", "update", "-qq"], check=True)  # noqa: S607
        subprocess.run(install, check=True)  # noqa: S603


# --- Django, in this process (same settings and SECRET_KEY as gunicorn) ------------------


def server_env(database_url: str, options: Options) -> dict[str, str]:
    """The settings gunicorn, manage.py and this process's Django run with: production
    settings, plain http on loopback (harness.app_settings), voters' own addresses
    through the trusted proxy header, and a cache directory of the benchmark's own."""
    return harness.app_settings(database_url) | {
        # Ballots carry each voter's address in X-Forwarded-For, as behind the TLS
        # proxy in production, so the hourly budgets keep their defaults.
        "CASEVOTE_TRUSTED_PROXIES": "127.0.0.1",
        # Our own freshness tokens: another checkout's server must not invalidate ours.
        "CASEVOTE_SHARED_CACHE_DIR": str(WORK_DIR / "shared-cache"),
        "GUNICORN_BIND": f"127.0.0.1:{options.port}",
        "GUNICORN_WORKERS": str(options.workers),
    }


def setup_django(env: dict[str, str]) -> None:
    """Django in this process with exactly gunicorn's settings (and SECRET_KEY)."""
    environment = harness.process_environment(env)
    os.environ.clear()
    os.environ.update(environment)
    import django

    django.setup()


def prepare_site(env: dict[str, str]) -> int:
    """Migrate, collect static files, load batch 2, open it (as the load tier does),
    then make results live. Returns the batch's primary key."""
    from cases.models import Batch

    print(harness.prepare_voting_database(env), end="", flush=True)
    harness.collect_static(env)
    Batch.objects.filter(number=BATCH_NUMBER).update(
        results_visibility=Batch.ResultsVisibility.LIVE
    )
    return Batch.objects.get(number=BATCH_NUMBER).pk


@dataclass
class DetectionReport:
    """`detect_brushing --store`, the scheduled job the monitoring page reads."""

    seconds: float
    peak_rss_mb: float
    output: str


def store_detection_run(env: dict[str, str]) -> DetectionReport:
    """Run the detector over the batch as its own process (as the scheduler would),
    timing it and reading its peak RSS from the kernel (bench/detector_growth.py)."""
    seconds, peak_rss_mb, _cpu, output = detector_growth.run_detector(env)
    return DetectionReport(seconds, peak_rss_mb, output)


def ensure_superuser() -> tuple[str, str]:
    """A superuser with a fresh random password for this run."""
    from django.contrib.auth.models import User

    username, password = "bench-admin", secrets.token_urlsafe(24)
    user = User.objects.filter(username=username).first()
    if user is None:
        User.objects.create_superuser(username, "", password)
    else:
        user.set_password(password)
        user.is_superuser = user.is_staff = user.is_active = True
        user.save()
    return username, password


# --- Seeding 1M ballots (bulk SQL) ---------------------------------------------------------


@dataclass
class SeedReport:
    requested: int
    present_before: int
    inserted: int
    seconds: float
    ballots_in_batch: int
    choices_in_batch: int


def seeded_count(cursor) -> int:
    cursor.execute(
        "SELECT count(*) FROM ballots_ballot b JOIN ballots_follower f ON f.id = b.follower_id"
        " WHERE f.backend = %s",
        [SEED_BACKEND],
    )
    return cursor.fetchone()[0]


def seed_ballots(batch_id: int, wanted: int) -> SeedReport:
    """Bring the seeded ballots up to `wanted` (never removes any), chunk by chunk,
    each chunk one transaction: a crash leaves whole chunks, and the next run resumes."""
    from django.db import connection, transaction
    from django.utils import timezone

    from cases.models import Case

    sql = (BENCH / "seed.sql").read_text()
    case_ids = list(
        Case.objects.filter(batch_id=batch_id).order_by("number").values_list("pk", flat=True)
    )
    if len(case_ids) != 30:
        raise RuntimeError(f"seed.sql expects the 30 cases of batch 2, found {len(case_ids)}")
    today = timezone.localdate()
    base = timezone.make_aware(datetime.combine(today - timedelta(days=21), datetime.min.time()))
    started = time.monotonic()
    with connection.cursor() as cursor:
        present = seeded_count(cursor)
        for first in range(present, wanted, SEED_CHUNK):
            last = min(first + SEED_CHUNK, wanted)
            with transaction.atomic():
                cursor.execute(
                    sql,
                    {
                        "first": first,
                        "last": last,
                        "base": base,
                        "batch_id": batch_id,
                        "case_ids": case_ids,
                        "user_agents": USER_AGENTS,
                    },
                )
            log(f"  seeded ballots {first:,}–{last - 1:,} ({time.monotonic() - started:.0f} s)")
        if wanted > present:
            cursor.execute("VACUUM (ANALYZE) ballots_follower, ballots_ballot, ballots_choice")
        seconds = time.monotonic() - started
        cursor.execute("SELECT count(*) FROM ballots_ballot WHERE batch_id = %s", [batch_id])
        ballots = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM ballots_choice c JOIN ballots_ballot b ON b.id = c.ballot_id"
            " WHERE b.batch_id = %s",
            [batch_id],
        )
        choices = cursor.fetchone()[0]
    return SeedReport(wanted, present, max(0, wanted - present), seconds, ballots, choices)


# --- Ballots for the submission run ----------------------------------------------------------


@dataclass
class PreparedBallots:
    path: Path
    key_prefix: str
    count: int
    expected: dict[int, frozenset[int]]  # follower id → case numbers on its ballot
    seconds: float


def csrf_secret() -> str:
    """A CSRF secret: 32 characters of [a-zA-Z0-9]; Django accepts it unmasked in the
    form field (django/middleware/csrf.py, _check_token_format / _does_token_match)."""
    from django.utils.crypto import get_random_string

    return get_random_string(32, allowed_chars=string.ascii_letters + string.digits)


def identity_cookies(follower_id: int) -> tuple[str, str]:
    """Exactly what the site sets: the signed follower cookie (remember_follower) and a
    signed device cookie (remember_device)."""
    from django.http import HttpResponse

    from ballots import identity

    response = HttpResponse()
    identity.remember_follower(response, follower_id)
    identity.remember_device(response, secrets.token_hex(16))
    return (
        response.cookies[identity.FOLLOWER_COOKIE].value,
        response.cookies[identity.DEVICE_COOKIE].value,
    )


def prepare_ballots(batch_id: int, count: int, run_id: str) -> PreparedBallots:
    """`count` new followers (backend "local"), each with cookies, a CSRF pair and a form
    token served a few seconds ago, one line each in the file ballot.lua reads."""
    from django.utils import timezone

    from ballots import identity
    from ballots.models import Follower
    from ballots.tokens import make_form_token
    from cases.models import Case

    started = time.monotonic()
    numbers = list(
        Case.objects.filter(batch_id=batch_id)
        .exclude(status=Case.Status.DISQUALIFIED)
        .values_list("number", flat=True)
    )
    now = timezone.now()
    key_prefix = f"bench-{run_id}-"
    followers = Follower.objects.bulk_create(
        Follower(backend="local", key=f"{key_prefix}{i:06d}", followed_at=now - timedelta(hours=1))
        for i in range(count)
    )
    served_at = now - timedelta(seconds=5)  # the minimum dwell is 2 s
    rng = random.Random(run_id)  # noqa: S311 (test data, not secrets)
    first_subnet = rng.randrange(65_536)  # voters fill /24s of 10.0.0.0/8, 200 to each
    expected: dict[int, frozenset[int]] = {}
    path = WORK_DIR / "ballots.tsv"
    with path.open("w") as out:
        for index, follower in enumerate(followers):
            subnet = (first_subnet + index // 200) % 65_536
            address = f"10.{subnet >> 8}.{subnet & 255}.{index % 200 + 1}"
            follower_cookie, device_cookie = identity_cookies(follower.pk)
            csrf = csrf_secret()
            chosen = rng.sample(numbers, rng.randint(2, 6))
            expected[follower.pk] = frozenset(chosen)
            cookie = (
                f"csrftoken={csrf}; {identity.FOLLOWER_COOKIE}={follower_cookie}; "
                f"{identity.DEVICE_COOKIE}={device_cookie}"
            )
            body = urllib.parse.urlencode(
                [
                    ("csrfmiddlewaretoken", csrf),
                    ("token", make_form_token(follower.pk, batch_id, served_at)),
                    ("website", ""),
                    *(("cases", f"{n:03d}") for n in sorted(chosen)),
                ]
            )
            out.write(f"{cookie}\t{address}\t{body}\n")
    return PreparedBallots(path, key_prefix, count, expected, time.monotonic() - started)


@dataclass
class BallotCheck:
    acknowledged: int  # 302 → /vote/thanks/ seen by wrk
    sent: int
    stored: int  # ballots in the database for the prepared followers
    wrong_choices: int  # stored ballots whose cases differ from what was posted
    in_flight_allowance: int
    ok: bool
    message: str


def check_ballots(prepared: PreparedBallots, counters: dict, connections: int) -> BallotCheck:
    """Stored ballots must equal acknowledged ones. Requests still in flight when wrk
    stops (at most one per connection) may be stored without wrk seeing the answer."""
    from ballots.models import Choice

    time.sleep(SETTLE_SECONDS)
    stored_cases: dict[int, set[int]] = {}
    rows = Choice.objects.filter(ballot__follower__key__startswith=prepared.key_prefix)
    for follower_id, number in rows.values_list("ballot__follower_id", "case__number"):
        stored_cases.setdefault(follower_id, set()).add(number)
    from ballots.models import Ballot

    stored = Ballot.objects.filter(follower__key__startswith=prepared.key_prefix).count()
    wrong = sum(1 for fid, cases in stored_cases.items() if prepared.expected.get(fid) != cases)
    acknowledged, sent = counters.get("thanks", 0), counters.get("sent", 0)
    surplus = stored - acknowledged
    if stored < acknowledged:
        ok, message = False, f"LOST BALLOTS: {acknowledged - stored} acknowledged but not stored"
    elif surplus > connections:
        ok, message = False, f"UNACKNOWLEDGED BALLOTS: {surplus} stored beyond the 302s seen"
    elif wrong:
        ok, message = False, f"WRONG CHOICES on {wrong} stored ballots"
    elif surplus:
        ok, message = True, f"{surplus} stored ballot(s) were in flight when wrk stopped"
    else:
        ok, message = True, "stored = acknowledged"
    if stored > sent:
        ok, message = False, f"MORE BALLOTS ({stored}) THAN REQUESTS SENT ({sent})"
    return BallotCheck(acknowledged, sent, stored, wrong, connections, ok, message)


# --- Workers' memory ---------------------------------------------------------------------


class RssSampler(threading.Thread):
    """Samples every worker's VmRSS during a run; keeps each worker's peak and VmHWM."""

    def __init__(self, server: harness.Gunicorn):
        super().__init__(daemon=True)
        self.server = server
        self.peak_rss: dict[int, int] = {}
        self.hwm: dict[int, int] = {}
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            self.sample()
            self.halt.wait(RSS_SAMPLE_SECONDS)
        self.sample()

    def sample(self) -> None:
        for pid, (rss, hwm) in self.server.worker_memory().items():
            self.peak_rss[pid] = max(self.peak_rss.get(pid, 0), rss)
            self.hwm[pid] = max(self.hwm.get(pid, 0), hwm)

    def stop(self) -> None:
        self.halt.set()
        self.join()


@contextmanager
def sampling(server: harness.Gunicorn) -> Iterator[RssSampler]:
    sampler = RssSampler(server)
    sampler.start()
    try:
        yield sampler
    finally:
        sampler.stop()


# --- HTTP with the standard library ------------------------------------------------------


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@dataclass
class Fetched:
    status: int
    body: bytes
    seconds: float


def fetch(url: str, *, cookie: str = "", timeout: float = 10, opener=None) -> Fetched:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})  # noqa: S310
    opener = opener or urllib.request.build_opener(NoRedirect)
    started = time.monotonic()
    try:
        with opener.open(request, timeout=timeout) as response:
            return Fetched(response.status, response.read(), time.monotonic() - started)
    except urllib.error.HTTPError as error:
        return Fetched(error.code, error.read(), time.monotonic() - started)


def admin_login(base_url: str, username: str, password: str) -> str:
    """Log in through the admin's login form; returns the Cookie header for wrk."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    page = fetch(f"{base_url}/admin/login/", opener=opener).body.decode()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if match is None:
        raise RuntimeError("no CSRF token on /admin/login/")
    data = urllib.parse.urlencode(
        {
            "csrfmiddlewaretoken": match.group(1),
            "username": username,
            "password": password,
            "next": "/admin/",
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310
        f"{base_url}/admin/login/", data=data, headers={"Origin": base_url}
    )
    try:
        opener.open(request, timeout=30)
    except urllib.error.HTTPError as error:
        if error.code != 302:
            raise RuntimeError(f"admin login answered {error.code}") from None
    cookies = {cookie.name: cookie.value for cookie in jar}
    if "sessionid" not in cookies:
        raise RuntimeError("admin login did not set a session cookie")
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


# --- wrk -----------------------------------------------------------------------------------


@dataclass
class Endpoint:
    name: str
    label: str
    path: str
    script: str = "get.lua"
    cookie: str = ""
    warmup: bool = True
    expect: tuple[str, ...] = ()  # strings the first response must contain


@dataclass
class Measurement:
    name: str
    label: str
    path: str
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    error_detail: dict
    statuses: dict
    peak_rss_mb: float  # the largest worker's peak VmRSS during the run
    hwm_mb: float  # the largest worker's VmHWM (lifetime high-water mark) at the end
    workers_seen: int  # >2 means workers were restarted during the run (max_requests)
    unanswered: int  # requests sent that had no answer when the run ended (in flight)
    first_status: int | None = None
    first_ms: float | None = None  # one request before the run: cold caches
    first_ok: bool | None = None
    counters: dict = field(default_factory=dict)
    ratio: float | None = None  # ÷ /healthz of the same run
    ratio_bare: float | None = None  # ÷ the bare Django view (anchor) of the same run
    ratio_tutorial: float | None = None  # campaign ÷ tutorial list, ballot ÷ tutorial vote


def run_wrk(
    url: str, options: Options, duration: int, script: str, cookie: str, env: dict[str, str]
) -> dict:
    command = [
        "wrk",
        f"-t{options.threads}",
        f"-c{options.connections}",
        f"-d{duration}s",
        "--timeout",
        "35s",  # longer than gunicorn's 30 s: slow answers count in p99, not as timeouts
        "-s",
        str(BENCH / script),
    ]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    result = subprocess.run(  # noqa: S603
        [*command, url],
        env={**os.environ, **env, "BENCH_THREADS": str(options.threads)},
        capture_output=True,
        text=True,
        timeout=duration + 90,
        check=False,
    )
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("BENCH-JSON ")), None)
    if result.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stderr or result.stdout}")
    return json.loads(line.removeprefix("BENCH-JSON "))


def probe(server: harness.Gunicorn, endpoint: Endpoint) -> tuple[int | None, float | None, bool]:
    """One request before the run (cold caches): its status, time and whether it is
    the page we mean to measure (not a login redirect or an error page)."""
    try:
        fetched = fetch(server.base_url + endpoint.path, cookie=endpoint.cookie, timeout=40)
    except OSError as error:
        log(f"  ! first request to {endpoint.path} failed: {error}")
        return None, None, False
    text = fetched.body.decode(errors="replace")
    ok = fetched.status == 200 and all(s in text for s in endpoint.expect)
    if not ok:
        log(f"  ! first request to {endpoint.path}: HTTP {fetched.status}, not the expected page")
    return fetched.status, round(fetched.seconds * 1000, 1), ok


def measure(
    server: harness.Gunicorn,
    endpoint: Endpoint,
    options: Options,
    wrk_env: dict[str, str] | None = None,
    around=nullcontext,
) -> Measurement:
    """One wrk run of `endpoint`; `around()` is entered for the timed part only (the
    cluster mode's CPU sampling)."""
    url = server.base_url + (endpoint.path if endpoint.script == "get.lua" else "/vote/")
    first_status = first_ms = first_ok = None
    if endpoint.script == "get.lua":
        first_status, first_ms, first_ok = probe(server, endpoint)
        if endpoint.warmup and options.warmup:
            run_wrk(url, options, options.warmup, endpoint.script, endpoint.cookie, {})
    with sampling(server) as sampler, around():
        stats = run_wrk(
            url, options, options.duration, endpoint.script, endpoint.cookie, wrk_env or {}
        )
    seconds = stats["duration_us"] / 1e6
    latency = stats["latency_us"]
    errors = sum(stats["errors"].values())
    return Measurement(
        name=endpoint.name,
        label=endpoint.label,
        path=endpoint.path,
        requests=stats["requests"],
        seconds=round(seconds, 2),
        rps=round(stats["requests"] / seconds, 1) if seconds else 0.0,
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        max_ms=latency["max"] / 1000,
        errors=errors,
        error_detail=stats["errors"],
        statuses=stats["statuses"],
        peak_rss_mb=round(max(sampler.peak_rss.values(), default=0) / 1024, 1),
        hwm_mb=round(max(sampler.hwm.values(), default=0) / 1024, 1),
        workers_seen=len(sampler.peak_rss),
        unanswered=max(0, stats.get("counters", {}).get("sent", 0) - stats["requests"]),
        first_status=first_status,
        first_ms=first_ms,
        first_ok=first_ok,
        counters=stats.get("counters", {}),
    )


# --- Report ----------------------------------------------------------------------------------


@dataclass
class Target:
    description: str
    passed: bool | None  # None: not measured in this run
    figure: str


def targets(
    runs: dict[str, Measurement],
    check: BallotCheck | None,
    ballots: int,
    connections: int,
    anchors: dict[str, Measurement] | None = None,
) -> list[Target]:
    result = []
    if "campaign" in runs:
        ratio = runs["campaign"].ratio or 0
        result.append(
            Target(
                f"campaign page ≥ {CAMPAIGN_MIN_RATIO}× healthz throughput",
                ratio >= CAMPAIGN_MIN_RATIO,
                f"{ratio:.2f}×",
            )
        )
    if "ballot" in runs:
        run = runs["ballot"]
        ratio = run.ratio or 0
        result.append(
            Target(
                f"ballot submission ≥ {BALLOT_MIN_RATIO}× healthz, p99 < {BALLOT_MAX_P99_MS} ms "
                f"at {connections} connections",
                ratio >= BALLOT_MIN_RATIO and run.p99_ms < BALLOT_MAX_P99_MS,
                f"{ratio:.2f}×, p99 {run.p99_ms:.1f} ms",
            )
        )
        if check is not None:
            result.append(
                Target(
                    "stored ballots = acknowledged (302) ballots",
                    check.ok,
                    f"stored {check.stored}, acknowledged {check.acknowledged}: {check.message}",
                )
            )
    if "results" in runs:
        run = runs["results"]
        result.append(
            Target(
                f"results page p99 < {RESULTS_MAX_P99_MS} ms with {ballots:,} ballots",
                run.requests > 0 and run.p99_ms < RESULTS_MAX_P99_MS,
                f"p99 {run.p99_ms:.1f} ms",
            )
        )
    if "poster" in runs:
        run = runs["poster"]
        result.append(
            Target(
                f"poster (cached) p99 < {POSTER_MAX_P99_MS} ms",
                run.requests > 0 and run.p99_ms < POSTER_MAX_P99_MS,
                f"p99 {run.p99_ms:.1f} ms (first, drawing it: {first_request(run)} ms)",
            )
        )
    result += anchor_targets(runs, anchors or {}, connections)
    worst = max(runs.values(), key=lambda r: r.peak_rss_mb)
    result.append(
        Target(
            f"< {MAX_WORKER_RSS_MB} MB RSS per worker (every endpoint)",
            worst.peak_rss_mb < MAX_WORKER_RSS_MB,
            f"max {worst.peak_rss_mb:.1f} MB ({worst.label})",
        )
    )
    return result


@dataclass(frozen=True)
class AnchorTarget:
    """casevote's `run` at least `minimum` times the anchor's throughput in the same run
    (and, for the ballot, p99 under BALLOT_MAX_P99_MS)."""

    run: str
    label: str
    anchor: str
    anchor_label: str
    ratio: str  # the Measurement attribute holding the ratio
    minimum: float
    p99: bool = False


ANCHOR_TARGETS = (
    AnchorTarget(
        "healthz", "/healthz", "bare", "the bare Django view", "ratio_bare", HEALTHZ_MIN_BARE
    ),
    AnchorTarget(
        "campaign", "campaign page", "bare", "the bare Django view", "ratio_bare", CAMPAIGN_MIN_BARE
    ),
    AnchorTarget(
        "ballot",
        "ballot submission",
        "tutorial_vote",
        "the tutorial vote",
        "ratio_tutorial",
        BALLOT_MIN_TUTORIAL,
        p99=True,
    ),
)


def anchor_targets(
    runs: dict[str, Measurement], anchors: dict[str, Measurement], connections: int
) -> list[Target]:
    """The targets taken against plain Django in the same run; n/a when the anchor
    was not measured (--no-anchors)."""
    result = []
    for target in ANCHOR_TARGETS:
        if target.run not in runs:
            continue
        run = runs[target.run]
        ratio, anchor = getattr(run, target.ratio), anchors.get(target.anchor)
        description = f"{target.label} ≥ {target.minimum}× {target.anchor_label}"
        if ratio is None or anchor is None:
            passed, figure = None, "anchor not measured"
        else:
            passed = run.requests > 0 and ratio >= target.minimum
            figure = f"{ratio:.2f}× ({run.rps:.1f} vs {anchor.rps:.1f} req/s)"
        if target.p99:
            description += f", p99 < {BALLOT_MAX_P99_MS} ms at {connections} connections"
            passed = passed and run.p99_ms < BALLOT_MAX_P99_MS if passed is not None else None
            figure += f", p99 {run.p99_ms:.1f} ms"
        result.append(Target(description, passed, figure))
    return result


def first_request(run: Measurement) -> str:
    if run.first_status is None and run.first_ms is None:
        return "-" if run.first_ok is None else "failed"
    figure = f"{run.first_ms:.0f}"
    return figure if run.first_ok else f"{figure} ({run.first_status})"


def row_target(run: Measurement) -> str:
    """The target that applies to this row, with PASS/MISS."""
    answered = run.requests > 0
    checks = {
        "campaign": (f"≥{CAMPAIGN_MIN_RATIO}×", (run.ratio or 0) >= CAMPAIGN_MIN_RATIO),
        "ballot": (
            f"≥{BALLOT_MIN_RATIO}×,p99<{BALLOT_MAX_P99_MS}",
            answered and (run.ratio or 0) >= BALLOT_MIN_RATIO and run.p99_ms < BALLOT_MAX_P99_MS,
        ),
        "results": (f"p99<{RESULTS_MAX_P99_MS}", answered and run.p99_ms < RESULTS_MAX_P99_MS),
        "poster": (f"p99<{POSTER_MAX_P99_MS}", answered and run.p99_ms < POSTER_MAX_P99_MS),
    }
    rss = "" if run.peak_rss_mb < MAX_WORKER_RSS_MB else f" RSS≥{MAX_WORKER_RSS_MB} MISS"
    if run.name not in checks:
        return rss.strip()
    text, passed = checks[run.name]
    return f"{text} {'PASS' if passed else 'MISS'}{rss}"


def print_table(
    runs: list[Measurement], goals: list[Target], anchors: list[Measurement] = ()
) -> None:
    header = (
        f"{'endpoint':<30}{'req/s':>9}{'×healthz':>10}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'errors':>8}{'RSS MB':>8}{'first ms':>12}  target"
    )
    print()
    print(header)
    print("-" * (len(header) + 22))
    for run in runs:
        print(
            f"{run.label:<30}{run.rps:>9.1f}{(run.ratio or 0):>9.2f}×{run.p50_ms:>9.1f}"
            f"{run.p99_ms:>9.1f}{run.errors:>8}{run.peak_rss_mb:>8.1f}{first_request(run):>12}"
            f"  {row_target(run)}"
        )
    if anchors:
        print("anchors: plain Django (bench/anchors), same gunicorn settings and cluster")
    for run in anchors:
        print(
            f"  {run.label:<28}{run.rps:>9.1f}{(run.ratio or 0):>9.2f}×{run.p50_ms:>9.1f}"
            f"{run.p99_ms:>9.1f}{run.errors:>8}{run.peak_rss_mb:>8.1f}{first_request(run):>12}"
        )
    for run in [*runs, *anchors]:
        if run.requests == 0:
            print(
                f"! {run.label}: no answer within the run "
                f"({run.unanswered} requests unanswered; latencies are not measurable)"
            )
    print(
        "\nreq/s over the fixed duration; p50/p99 from wrk; errors = HTTP ≥ 400 + socket errors"
        " + timeouts;\nRSS = largest worker's peak VmRSS during the run; first = one request"
        " before the run (cold caches).\n"
    )
    for goal in goals:
        verdict = "n/a " if goal.passed is None else ("PASS" if goal.passed else "MISS")
        print(f"  {verdict}  {goal.description}: {goal.figure}")
    print()


def pair_target(run: Measurement, anchor: str) -> str:
    """The target a casevote figure has against this anchor, with PASS/MISS."""
    answered = run.requests > 0
    ratio = (run.ratio_tutorial if anchor.startswith("tutorial") else run.ratio_bare) or 0
    checks = {
        ("healthz", "bare"): (f"≥{HEALTHZ_MIN_BARE}×", ratio >= HEALTHZ_MIN_BARE),
        ("campaign", "bare"): (f"≥{CAMPAIGN_MIN_BARE}×", ratio >= CAMPAIGN_MIN_BARE),
        ("ballot", "tutorial_vote"): (
            f"≥{BALLOT_MIN_TUTORIAL}×,p99<{BALLOT_MAX_P99_MS}",
            answered and ratio >= BALLOT_MIN_TUTORIAL and run.p99_ms < BALLOT_MAX_P99_MS,
        ),
    }
    if (run.name, anchor) not in checks:
        return ""
    text, passed = checks[(run.name, anchor)]
    return f"{text} {'PASS' if passed else 'MISS'}"


def print_beside(runs: list[Measurement], anchors: dict[str, Measurement]) -> None:
    """Every casevote figure beside the plain-Django figure it is read against: the bare
    view for all, and the tutorial's list and vote for the campaign page and the ballot."""
    if "bare" not in anchors:
        return
    pairs = []
    for run in runs:
        pairs.append((run, anchors["bare"], run.ratio_bare))
        tutorial = TUTORIAL_ANCHOR.get(run.name)
        if tutorial in anchors:
            pairs.append((run, anchors[tutorial], run.ratio_tutorial))
    header = (
        f"{'casevote':<30}{'req/s':>9}  {'beside (plain Django)':<26}{'req/s':>9}{'ratio':>9}"
        f"{'p99 ms: casevote / anchor':>28}  target"
    )
    print(header)
    print("-" * (len(header) + 14))
    for run, anchor, ratio in pairs:
        figure = "—" if ratio is None else f"{ratio:.2f}×"
        p99 = f"{run.p99_ms:.1f} / {anchor.p99_ms:.1f}"
        print(
            f"{run.label:<30}{run.rps:>9.1f}  {anchor.label:<26}{anchor.rps:>9.1f}{figure:>9}"
            f"{p99:>28}  {pair_target(run, anchor.name)}"
        )
    print(
        "\nratio = casevote req/s ÷ the anchor's req/s, same run; each anchor runs right after"
        " /healthz,\nthe campaign page or the ballot, so the other rows' ratios span minutes.\n"
    )


def git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(  # noqa: S603
            ["git", *args],  # noqa: S607
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()

    commit = git("rev-parse", "HEAD")
    return f"{commit}-dirty" if git("status", "--porcelain", "--untracked-files=no") else commit


def machine_info() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)  # noqa: S607
    import django

    return {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),  # noqa: DTZ005
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_mb": int(memory) // 1024,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "postgresql": pg_version,
        "wrk": (wrk.stdout or wrk.stderr).splitlines()[0] if (wrk.stdout or wrk.stderr) else "",
        "git_commit": git_commit(),
        # The machine is shared: load from other work before the run skews the figures.
        "loadavg_at_start": LOADAVG_AT_START,
    }


def write_results(
    options: Options,
    env: dict[str, str],
    seed: SeedReport | None,
    prepared: PreparedBallots | None,
    runs: list[Measurement],
    check: BallotCheck | None,
    goals: list[Target],
    detection: DetectionReport | None = None,
    caches: list[dict] | None = None,
    budget_lock: dict | None = None,
    anchors: dict | None = None,
    growth: dict | None = None,
    indexes: dict | None = None,
) -> None:
    settings_used = {k: ("<generated>" if k == "SECRET_KEY" else v) for k, v in env.items()}
    settings_used["DATABASE_URL"] = env["DATABASE_URL"] + " (own cluster, " + options.pg_root + ")"
    payload = {
        "machine": machine_info(),
        "options": {k: v for k, v in asdict(options).items() if k != "port"},
        "settings": settings_used | {"gunicorn": "gunicorn -c gunicorn.conf.py"},
        "seed": asdict(seed) if seed else None,
        "ballot_preparation": (
            {"followers": prepared.count, "seconds": round(prepared.seconds, 1)}
            if prepared
            else None
        ),
        "detection_run": asdict(detection) if detection else None,
        "runs": [asdict(run) for run in runs],
        "ballot_check": asdict(check) if check else None,
        "targets": [asdict(goal) for goal in goals],
        "caches": caches or [],
        "budget_lock": budget_lock,
        "anchors": anchors,
        "detector_growth": growth,
        "ballot_indexes": indexes,
    }
    if RESULTS_FILE.exists():  # what other modes wrote (--cluster) stays
        kept = json.loads(RESULTS_FILE.read_text())
        payload |= {key: kept[key] for key in kept.keys() - payload.keys()}
    RESULTS_FILE.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    log(f"wrote {RESULTS_FILE.relative_to(REPO)}")


# --- Anchors: plain Django beside the site (bench/anchors) ----------------------------------

ANCHOR_APP = "bench.anchors.wsgi:application"
ANCHOR_SETTINGS = "bench.anchors.settings"
ANCHOR_DATABASE = "casevote_anchors"  # on the benchmark's cluster, recreated every run
# Each anchor runs right after the casevote run it anchors, so both see the same machine.
ANCHOR_AFTER = {"healthz": "bare", "campaign": "tutorial_list", "ballot": "tutorial_vote"}
TUTORIAL_ANCHOR = {"campaign": "tutorial_list", "ballot": "tutorial_vote"}


def anchor_endpoints() -> dict[str, Endpoint]:
    return {
        "bare": Endpoint("bare", "bare Django view", "/bare", expect=("ok",)),
        "tutorial_list": Endpoint(
            "tutorial_list", "tutorial list of 30 cases", "/", expect=("031", "060")
        ),
        "tutorial_vote": Endpoint(
            "tutorial_vote", "POST tutorial vote (3 F())", "/vote/", script="tutorial_vote.lua"
        ),
    }


def anchor_settings(database_url: str, env: dict[str, str]) -> dict[str, str]:
    """The anchor project's settings: its own database on the benchmark's cluster, DEBUG
    off, a key of its own. CASEVOTE_TRUSTED_PROXIES is passed only because
    gunicorn.conf.py reads it (forwarded_allow_ips): the gunicorn settings are the site's."""
    return {
        "DJANGO_SETTINGS_MODULE": ANCHOR_SETTINGS,
        "DATABASE_URL": harness.with_database_name(database_url, ANCHOR_DATABASE),
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": harness.LOOPBACK,
        "CASEVOTE_TRUSTED_PROXIES": env["CASEVOTE_TRUSTED_PROXIES"],
    }


def prepare_anchors(settings: dict[str, str]) -> None:
    """An empty database each run (so the vote table holds this run's votes only),
    migrated, with batch 2's 30 cases as the tutorial's."""
    harness.recreate_database(settings["DATABASE_URL"])
    harness.manage("migrate", "--noinput", "-v0", settings=settings)
    harness.manage("load_tutorial_cases", "fixtures/batch2.json", settings=settings)


@dataclass
class TutorialVoteCheck:
    acknowledged: int  # 302s seen by wrk
    sent: int
    stored: int  # ballots in the anchor database
    choices: int  # choice rows (three per ballot)
    counted: int  # the sum of the cases' counters (one per choice)
    ok: bool
    message: str


def check_tutorial_votes(database_url: str, counters: dict, connections: int) -> TutorialVoteCheck:
    """The anchor must do the work it claims: every acknowledged vote stored with its
    three choices and counted, as in casevote's ballot check."""
    time.sleep(SETTLE_SECONDS)
    connection = harness.connect(database_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT (SELECT count(*) FROM tutorial_ballot),"
                " (SELECT count(*) FROM tutorial_choice),"
                " (SELECT coalesce(sum(votes), 0) FROM tutorial_case)"
            )
            stored, choices, counted = cursor.fetchone()
    finally:
        connection.close()
    acknowledged, sent = counters.get("voted", 0), counters.get("sent", 0)
    if stored < acknowledged or stored - acknowledged > connections or stored > sent:
        ok, message = False, f"{stored} votes stored for {acknowledged} acknowledged"
    elif choices != 3 * stored or counted != choices:
        ok, message = False, f"{choices} choices and {counted} counted for {stored} votes"
    else:
        ok, message = True, f"{stored} votes stored, 3 choices each, all counted"
    return TutorialVoteCheck(acknowledged, sent, stored, choices, int(counted), ok, message)


@dataclass
class Anchors:
    """The anchor project's server and what was measured on it."""

    server: harness.Gunicorn
    settings: dict[str, str]
    runs: dict[str, Measurement] = field(default_factory=dict)
    vote_check: TutorialVoteCheck | None = None

    def measure_after(self, name: str, options: Options, healthz_rps: float) -> None:
        """Measure the anchor of casevote's run `name`, if it has one."""
        anchor = ANCHOR_AFTER.get(name)
        if anchor is None:
            return
        endpoint = anchor_endpoints()[anchor]
        log(f"measuring the anchor: {endpoint.label} for {options.duration} s")
        run = measure(self.server, endpoint, options)
        run.ratio = round(run.rps / healthz_rps, 3) if healthz_rps else None
        self.runs[anchor] = run
        log(f"  {run.rps:.1f} req/s, p99 {run.p99_ms:.1f} ms, {run.errors} errors")
        if anchor == "tutorial_vote":
            self.vote_check = check_tutorial_votes(
                self.settings["DATABASE_URL"], run.counters, options.connections
            )
            level = "" if self.vote_check.ok else "!!! "
            log(f"  {level}tutorial vote check: {self.vote_check.message}")

    def report(self) -> dict:
        """What results.json says about the anchors."""
        return {
            "project": "bench/anchors (startproject's settings and middleware, a tutorial app)",
            "served_by": f"gunicorn -c gunicorn.conf.py {ANCHOR_APP}",
            "database": f"{ANCHOR_DATABASE} on the benchmark's cluster (recreated every run)",
            "runs": [asdict(run) for run in self.runs.values()],
            "tutorial_vote_check": asdict(self.vote_check) if self.vote_check else None,
        }


def set_anchor_ratios(runs: dict[str, Measurement], anchors: dict[str, Measurement]) -> None:
    """Every casevote run ÷ the bare view; the campaign page ÷ the tutorial's list and the
    ballot ÷ the tutorial's vote. The anchors get theirs to the bare view too."""

    def ratio(run: Measurement, anchor: str) -> float | None:
        base = anchors.get(anchor)
        return round(run.rps / base.rps, 3) if base and base.rps else None

    for run in [*runs.values(), *anchors.values()]:
        run.ratio_bare = ratio(run, "bare")
    for name, tutorial in TUTORIAL_ANCHOR.items():
        if name in runs:
            runs[name].ratio_tutorial = ratio(runs[name], tutorial)


# --- The run -------------------------------------------------------------------------------


def endpoints(batch_id: int, admin_cookie: str) -> dict[str, Endpoint]:
    return {
        "healthz": Endpoint("healthz", "/healthz", "/healthz", expect=("ok",)),
        "campaign": Endpoint("campaign", "/ (campaign page, 30 cases)", "/", expect=("031", "060")),
        "case": Endpoint("case", CASE_PAGE, CASE_PAGE, expect=("031",)),
        "poster": Endpoint("poster", "poster PNG (cached)", POSTER, expect=("PNG",)),
        "ballot": Endpoint("ballot", "POST /vote/ (ballot)", "/vote/", script="ballot.lua"),
        # No warm-up: the first request of each worker counts the tally (then cached
        # for CASEVOTE_RESULTS_CACHE_SECONDS), as it does every 30 s in production.
        "results": Endpoint("results", "/results/", "/results/", warmup=False),
        "monitoring": Endpoint(
            "monitoring",
            "admin monitoring page",
            f"/admin/cases/batch/{batch_id}/monitoring/",
            cookie=admin_cookie,
            warmup=False,
            expect=("刷票监测", "检测时间"),
        ),
    }


def ballot_run(
    server: harness.Gunicorn,
    options: Options,
    batch_id: int,
    healthz_rps: float,
    run_id: str,
    around=nullcontext,
) -> tuple[Measurement, PreparedBallots, BallotCheck]:
    count = min(
        MAX_PREPARED_BALLOTS, math.ceil(healthz_rps * options.duration * BALLOT_HEADROOM) + 500
    )
    log(f"preparing {count:,} followers with cookies and form tokens (untimed)")
    prepared = prepare_ballots(batch_id, count, run_id)
    log(f"  prepared in {prepared.seconds:.1f} s")
    wrk_env = {
        "BENCH_BALLOTS": str(prepared.path),
        "BENCH_ORIGIN": server.base_url,
        "BENCH_HOST": server.base_url.removeprefix("http://"),
    }
    endpoint = endpoints(batch_id, "")["ballot"]
    run = measure(server, endpoint, options, wrk_env, around)
    check = check_ballots(prepared, run.counters, options.connections)
    if run.counters.get("exhausted"):
        log("  ! ran out of prepared followers: the throughput is understated")
    return run, prepared, check


def measure_without_caches(
    options: Options,
    env: dict[str, str],
    batch_id: int,
    run_id: str,
    runs: dict[str, Measurement],
) -> list[dict]:
    """The endpoints again on a server with the caches turned off (CACHES_OFF), in the
    same run, so that each cache's worth is a ratio measured here, not remembered."""
    names = [name for name in ABLATED if name in runs]
    if not names:
        return []
    log(f"caches off ({', '.join(f'{k}={v}' for k, v in CACHES_OFF.items())}): {names}")
    server = harness.Gunicorn(
        env | CACHES_OFF,
        WORK_DIR / "gunicorn-caches-off.log",
        worker_count=options.workers,
        port=options.port,
    ).start()
    plan = endpoints(batch_id, "")
    compared = []
    try:
        for name in names:
            log(f"measuring {plan[name].label} without caches for {options.duration} s")
            if name == "ballot":
                off, _, check = ballot_run(
                    server, options, batch_id, runs["healthz"].rps, f"{run_id}-off"
                )
                log(f"  ballot check: {check.message}")
            else:
                off = measure(server, plan[name], options)
            on = runs[name]
            compared.append(
                {
                    "endpoint": name,
                    "label": on.label,
                    "rps_with": on.rps,
                    "rps_without": off.rps,
                    "gain": round(on.rps / off.rps, 2) if off.rps else None,
                    "p99_ms_with": on.p99_ms,
                    "p99_ms_without": off.p99_ms,
                    "errors_without": off.errors,
                }
            )
            log(f"  {off.rps:.1f} req/s without (with: {on.rps:.1f}), p99 {off.p99_ms:.1f} ms")
    finally:
        server.stop()
    return compared


LOCK_ROUNDS = 400  # transactions per sample; LOCK_SAMPLES samples each way, interleaved
LOCK_SAMPLES = 5


def measure_budget_lock(ballot: Measurement | None, workers: int) -> dict:
    """What serialising the hourly budgets costs a ballot (ballots.locks): a statement
    sent alone and with the advisory lock on the voter's /24 before it in the same round
    trip and implicit transaction, as ballots.storing sends the ballot's, timed in this
    process against the benchmark's database, samples interleaved so both see the same
    noise. Each round takes another /24, as ballots from many networks do."""
    from statistics import median

    from django.db import connection

    from ballots import locks

    def sample(with_lock: bool) -> float:
        started = time.perf_counter()
        for i in range(LOCK_ROUNDS):
            with connection.cursor() as cursor:
                if with_lock:
                    lock = locks.lock_id("ballot", f"198.51.{i % 250}.0/24")
                    cursor.execute("SELECT pg_advisory_xact_lock(%s); SELECT 1", [lock])
                else:
                    cursor.execute("SELECT 1")
        return (time.perf_counter() - started) / LOCK_ROUNDS * 1e6

    without, with_lock = [], []
    for _ in range(LOCK_SAMPLES):
        without.append(sample(False))
        with_lock.append(sample(True))
    lock_us = max(0.0, median(with_lock) - median(without))
    # A ballot's server time: the workers were saturated during the ballot run.
    ballot_us = workers / ballot.rps * 1e6 if ballot and ballot.rps else None
    result = {
        "transactions": LOCK_ROUNDS * LOCK_SAMPLES,
        "transaction_us": round(median(without), 1),
        "transaction_with_lock_us": round(median(with_lock), 1),
        "lock_us": round(lock_us, 1),
        "ballot_us": round(ballot_us, 1) if ballot_us else None,
        "share_of_ballot": round(lock_us / ballot_us, 4) if ballot_us else None,
    }
    share = (
        f", {result['share_of_ballot']:.1%} of a ballot's {ballot_us:.0f} µs" if ballot_us else ""
    )
    log(f"budget lock: {lock_us:.0f} µs per ballot{share}")
    return result


def print_caches(compared: list[dict]) -> None:
    if not compared:
        return
    print(
        f"{'with and without caches':<32}{'with':>9}{'without':>9}{'gain':>10}{'p99 without':>14}"
    )
    for row in compared:
        gain = f"{row['gain']:.2f}×" if row["gain"] else "—"
        print(
            f"{row['label']:<32}{row['rps_with']:>9.1f}{row['rps_without']:>9.1f}"
            f"{gain:>10}{row['p99_ms_without']:>11.1f} ms"
        )
    print(flush=True)


def benchmark(options: Options) -> int:
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    run_id = datetime.now().astimezone().strftime("%Y%m%d%H%M%S")  # noqa: DTZ005
    server: harness.Gunicorn | None = None
    anchors: Anchors | None = None
    cluster = harness.PostgresCluster(root=options.pg_root, port=options.pg_port)
    try:
        log(f"starting PostgreSQL (own cluster in {cluster.root}, port {cluster.port})")
        if options.reset:
            harness.drop_database(cluster.start())
        database_url = cluster.start()
        env = server_env(database_url, options)
        growth = detector_growth.measure_growth(
            database_url, lambda url: server_env(url, options), options.detector_sizes, log
        )
        if options.detector_only:
            return detector_growth.report_alone(growth, RESULTS_FILE)
        setup_django(env)
        log("migrate, collectstatic, load batch 2, open voting, results live")
        batch_id = prepare_site(env)
        if options.anchors:
            # Before the untimed seeding: the new database's writes settle before any run.
            settings = anchor_settings(database_url, env)
            log(f"anchors: {ANCHOR_DATABASE} on the same cluster (migrate, batch 2's 30 cases)")
            prepare_anchors(settings)
            anchors = Anchors(
                harness.Gunicorn(
                    settings,
                    WORK_DIR / "gunicorn-anchors.log",
                    worker_count=options.workers,
                    app=ANCHOR_APP,
                    ready_path="/bare",
                ),
                settings,
            )
        seed = None
        if options.index_only or {"results", "monitoring"} & set(options.endpoints):
            log(f"seeding up to {options.ballots:,} ballots (untimed)")
            seed = seed_ballots(batch_id, options.ballots)
            log(
                f"  {seed.inserted:,} inserted in {seed.seconds:.1f} s; batch holds "
                f"{seed.ballots_in_batch:,} ballots, {seed.choices_in_batch:,} choices"
            )
        if options.index_only:
            return ballot_indexes.report_alone(
                index_cost(database_url, batch_id, options), RESULTS_FILE
            )
        detection = None
        if "monitoring" in options.endpoints:
            log("detect_brushing --store over the batch (untimed; the page reads this run)")
            detection = store_detection_run(env)
            log(
                f"  {detection.output} — {detection.seconds} s, peak RSS {detection.peak_rss_mb} MB"
            )
        username, password = ensure_superuser()
        from django.db import connections

        connections.close_all()
        log(f"starting gunicorn ({options.workers} workers) on 127.0.0.1:{options.port}")
        server = harness.Gunicorn(
            env, WORK_DIR / "gunicorn.log", worker_count=options.workers, port=options.port
        ).start()
        if anchors is not None:
            log(f"starting the anchors' gunicorn ({ANCHOR_APP}, same gunicorn.conf.py)")
            anchors.server.start()  # once assigned: stopped on the way out, whatever happens
        admin_cookie = (
            admin_login(server.base_url, username, password)
            if "monitoring" in options.endpoints
            else ""
        )
        plan = endpoints(batch_id, admin_cookie)
        runs: dict[str, Measurement] = {}
        prepared = check = None
        for name in options.endpoints:
            log(f"measuring {plan[name].label} for {options.duration} s")
            if name == "ballot":
                runs[name], prepared, check = ballot_run(
                    server, options, batch_id, runs["healthz"].rps, run_id
                )
                level = "" if check.ok else "!!! "
                log(f"  {level}ballot check: {check.message}")
            else:
                runs[name] = measure(server, plan[name], options)
            runs[name].ratio = round(runs[name].rps / runs["healthz"].rps, 3)
            log(
                f"  {runs[name].rps:.1f} req/s, p99 {runs[name].p99_ms:.1f} ms, "
                f"{runs[name].errors} errors, statuses {runs[name].statuses}"
            )
            if anchors is not None:
                anchors.measure_after(name, options, runs["healthz"].rps)
        server.stop()
        if anchors is not None:
            anchors.server.stop()
        anchor_runs = anchors.runs if anchors is not None else {}
        set_anchor_ratios(runs, anchor_runs)
        caches = []
        if options.ablation:
            caches = measure_without_caches(options, env, batch_id, run_id, runs)
        budget_lock = measure_budget_lock(runs.get("ballot"), options.workers)
        indexes = index_cost(database_url, batch_id, options)
        ballots_held = seed.ballots_in_batch if seed else 0
        goals = targets(runs, check, ballots_held, options.connections, anchor_runs)
        goals += [Target(*row) for row in [detector_growth.target_row(growth)] if row]
        print_table(list(runs.values()), goals, list(anchor_runs.values()))
        print_beside(list(runs.values()), anchor_runs)
        print_caches(caches)
        detector_growth.print_growth(growth)
        ballot_indexes.print_report(indexes)
        if check is not None and not check.ok:
            print(f"!!! BALLOT MISMATCH: {check.message} !!!\n", flush=True)
        if anchors is not None and anchors.vote_check and not anchors.vote_check.ok:
            print(f"!!! TUTORIAL VOTE MISMATCH: {anchors.vote_check.message} !!!\n", flush=True)
        write_results(
            options,
            env,
            seed,
            prepared,
            list(runs.values()),
            check,
            goals,
            detection,
            caches,
            budget_lock,
            anchors.report() if anchors is not None else None,
            growth,
            indexes,
        )
        return 0
    finally:
        if server is not None:
            server.stop()
        if anchors is not None:
            anchors.server.stop()
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: BLE001, S110 (Django may not be set up yet)
            pass
        log("stopping PostgreSQL")
        cluster.stop()


def index_cost(database_url: str, batch_id: int, options: Options) -> dict | None:
    """The ballot table's indexes: what each ballot pays for them, today's and the
    dropped ones', in copies of this database (bench/ballot_indexes.py)."""
    from django.db import connections

    connections.close_all()  # the copies take this database as their template
    return ballot_indexes.measure(database_url, batch_id, options.index_ballots, log)


def exit_on_signal(signum: int, frame) -> None:
    """Turn SIGTERM/SIGHUP into SystemExit so the cleanup in `benchmark` runs."""
    sys.exit(128 + signum)


def main(argv: list[str]) -> int:
    options = parse_args(argv)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, exit_on_signal)
    ensure_package("wrk", "wrk")
    ensure_package("pg_ctl", "postgresql")
    with LOCK_FILE.open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            sys.exit(f"another benchmark is running ({LOCK_FILE} is locked)")
        if options.cluster:
            return cluster.benchmark_cluster(options, log)
        return benchmark(options)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
