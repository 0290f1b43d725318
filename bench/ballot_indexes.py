"""What the ballot table's indexes cost each ballot, with the indexes of today and with
those the migration `ballots.0009_ballot_drop_covered_indexes` dropped, in one run.

Two copies of the benchmark's database (`CREATE DATABASE ... TEMPLATE`, so the same
million ballots): `now`, as migrated, and `before`, with the dropped indexes built
again from the migration's own list. Both are then reindexed, so every index of both
starts freshly built (a measurement of "before" on freshly built indexes against "now"
on indexes grown ballot by ballot would compare the indexes' state, not their number),
and their autovacuum is turned off, so nothing but the ballots writes.

Then the same ballots (same followers, cases, addresses, receipts and nonces, from one
seeded generator) are stored in each, `--index-ballots` per chunk, each ballot its own
transaction through the site's own `ballots.storing.store_ballot` (the advisory lock,
the hourly budgets' counts and the insert of the ballot and its choices, in one round
trip), `ROUNDS` chunks per copy, alternating which copy goes first. A CHECKPOINT starts
every chunk, so each one pays the full-page images that the first change of a page after
a checkpoint writes, as a ballot does in production once every checkpoint interval.

Per ballot: WAL records, full-page images and bytes (pg_stat_wal: cluster-wide, nothing
else writes meanwhile), the database's buffer hits and reads (pg_stat_database), each
index's block accesses (pg_statio_user_indexes), and the wall time in this process.
Index sizes are read after the reindex. Stats are read once the storing connection is
closed (a backend reports its counts when it exits).
"""

from __future__ import annotations

import importlib
import json
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from ipaddress import IPv4Address
from pathlib import Path

import dj_database_url

from tools import harness

MIGRATION = "ballots.migrations.0009_ballot_drop_covered_indexes"
DATABASE_PREFIX = "casevote_indexes"
VARIANTS = ("now", "before")
FULL_BALLOTS = 2_000  # per chunk; ROUNDS chunks per copy
QUICK_BALLOTS = 300
ROUNDS = 2
TABLE = "ballots_ballot"
OWN_TABLES = ("ballots_ballot", "ballots_choice", "ballots_follower")
USER_AGENT = (
    "Mozilla/5.0 (Linux; Android 13; V2227A Build/TP1A.220624.014; wv) AppleWebKit/537.36"
    " (KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36"
    " MicroMessenger/8.0.47.2560(0x28002F35) NetType/WIFI Language/zh_CN"
)
# Voters' addresses: random /24s of 100.64.0.0/10 (16,384 of them), so that no /24 nears
# its hourly budget and every ballot lands on its own place in the address indexes.
ADDRESS_BASE = int(IPv4Address("100.64.0.0"))
ADDRESS_SPAN = 1 << 22
STATS_SETTLE_SECONDS = 0.7  # after the storing backend exits, before reading its counts


def dropped_indexes() -> list[tuple[str, str, bool]]:
    """(name, column, varchar_pattern_ops) of every index the migration dropped."""
    return importlib.import_module(MIGRATION).DROPPED


def recreate_sql() -> list[str]:
    """The dropped indexes as the migration's reverse builds them on PostgreSQL."""
    return [
        f'CREATE INDEX "{name}" ON {TABLE} ("{column}"{" varchar_pattern_ops" if like else ""})'
        for name, column, like in dropped_indexes()
    ]


@dataclass
class Chunk:
    """One chunk of ballots stored in one copy, and what it cost."""

    variant: str
    round: int
    ballots: int
    seconds: float
    wal_records: int
    wal_fpi: int
    wal_bytes: int
    blks_hit: int
    blks_read: int
    index_blocks: dict[str, int]  # ballots_ballot's indexes: hits + reads


def _snapshot(url: str) -> dict:
    connection = harness.connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal")
            records, fpi, wal_bytes = cursor.fetchone()
            cursor.execute(
                "SELECT blks_hit, blks_read FROM pg_stat_database WHERE datname = current_database()"
            )
            hit, read = cursor.fetchone()
            cursor.execute(
                "SELECT indexrelname, idx_blks_hit + idx_blks_read FROM pg_statio_user_indexes"
                " WHERE relname = %s",
                [TABLE],
            )
            indexes = dict(cursor.fetchall())
    finally:
        connection.close()
    return {
        "wal_records": records,
        "wal_fpi": fpi,
        "wal_bytes": int(wal_bytes),
        "blks_hit": hit,
        "blks_read": read,
        "indexes": indexes,
    }


def _index_sizes(url: str) -> dict[str, int]:
    connection = harness.connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexrelname, pg_relation_size(indexrelid) FROM pg_stat_user_indexes"
                " WHERE relname = %s ORDER BY 2 DESC",
                [TABLE],
            )
            return dict(cursor.fetchall())
    finally:
        connection.close()


def _on(url: str, *statements: str | tuple[str, list]) -> None:
    """Run statements (or (statement, parameters)) on the database of `url`."""
    connection = harness.connect(url)
    try:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(*((statement,) if isinstance(statement, str) else statement))
    finally:
        connection.close()


def prepare_copy(source_url: str, variant: str, followers: int, run_key: str) -> str:
    """The benchmark's database copied, its indexes as `variant` has them, reindexed,
    autovacuum off, with `followers` new followers (the same in every copy)."""
    name = f"{DATABASE_PREFIX}_{variant}"
    template = dj_database_url.parse(source_url)["NAME"]
    _on(
        harness.with_database_name(source_url, "postgres"),
        f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
        f'CREATE DATABASE "{name}" TEMPLATE "{template}"',
    )
    url = harness.with_database_name(source_url, name)
    new_followers = (
        # The same keys and, from the copied sequence, the same ids in every copy.
        "INSERT INTO ballots_follower (backend, key, followed_at, scene, created_at,"
        " origin_network) SELECT 'local', %s || n, now() - interval '1 hour', '', now(), ''"
        " FROM generate_series(1, %s) AS n",
        [f"{run_key}-", followers],
    )
    _on(
        url,
        *(recreate_sql() if variant == "before" else []),
        *(f"ALTER TABLE {table} SET (autovacuum_enabled = off)" for table in OWN_TABLES),
        f"REINDEX TABLE {TABLE}",
        new_followers,
        "VACUUM (ANALYZE) ballots_ballot, ballots_follower, ballots_choice",
    )
    return url


def _ballots(batch, followers: list[int], case_pool: list, rng: random.Random):
    """The ballots of one chunk, built as the site builds them (services.new_ballot)."""
    from django.utils import timezone

    from ballots.models import new_receipt_code
    from ballots.services import new_ballot

    for follower_id in followers:
        now = timezone.now()
        address = IPv4Address(ADDRESS_BASE + rng.randrange(ADDRESS_SPAN))
        yield (
            new_ballot(
                follower_id=follower_id,
                batch=batch,
                cast_at=now,
                form_served_at=now - timedelta(seconds=5),
                form_nonce=f"{rng.getrandbits(128):032x}",
                ip=address,
                user_agent=USER_AGENT,
                device_id=f"{rng.getrandbits(128):032x}",
                receipt=new_receipt_code(rng),
            ),
            rng.sample(case_pool, rng.randint(2, 6)),
        )


def store_chunk(
    url: str, variant: str, round_number: int, batch_id: int, followers: list[int], seed: str
) -> Chunk:
    """Store one ballot per follower in the copy at `url`, each its own transaction,
    through ballots.storing; returns what the chunk cost."""
    from django.db import connection
    from django.utils import timezone

    from ballots import services, storing
    from cases.models import Batch, Case

    name = dj_database_url.parse(url)["NAME"]
    own_name = connection.settings_dict["NAME"]
    _on(harness.with_database_name(url, "postgres"), "CHECKPOINT")
    before = _snapshot(url)
    connection.close()
    connection.settings_dict["NAME"] = name
    try:
        batch = Batch.objects.get(pk=batch_id)
        case_pool = list(
            Case.objects.filter(batch_id=batch_id).exclude(status=Case.Status.DISQUALIFIED)
        )
        rng = random.Random(f"{seed}-{round_number}")  # noqa: S311 (test data)
        budget = services.network_budget(timezone.now())
        stored = 0
        started = time.perf_counter()
        for ballot, cases in _ballots(batch, followers, case_pool, rng):
            stored += storing.store_ballot(ballot, cases, budget)
        seconds = time.perf_counter() - started
    finally:
        connection.close()  # the backend exits and reports its counts
        connection.settings_dict["NAME"] = own_name
    time.sleep(STATS_SETTLE_SECONDS)
    after = _snapshot(url)
    return Chunk(
        variant=variant,
        round=round_number,
        ballots=stored,
        seconds=round(seconds, 3),
        wal_records=after["wal_records"] - before["wal_records"],
        wal_fpi=after["wal_fpi"] - before["wal_fpi"],
        wal_bytes=after["wal_bytes"] - before["wal_bytes"],
        blks_hit=after["blks_hit"] - before["blks_hit"],
        blks_read=after["blks_read"] - before["blks_read"],
        index_blocks={
            index: after["indexes"].get(index, 0) - before["indexes"].get(index, 0)
            for index in after["indexes"]
        },
    )


def _per_ballot(chunks: list[Chunk]) -> dict:
    ballots = sum(chunk.ballots for chunk in chunks) or 1

    def each(total: float, digits: int = 1) -> float:
        return round(total / ballots, digits)

    names = sorted({name for chunk in chunks for name in chunk.index_blocks})
    per_index = {
        name: each(sum(chunk.index_blocks.get(name, 0) for chunk in chunks), 2) for name in names
    }
    return {
        "ballots": ballots,
        "wal_records": each(sum(c.wal_records for c in chunks), 2),
        "wal_fpi": each(sum(c.wal_fpi for c in chunks), 2),
        "wal_bytes": each(sum(c.wal_bytes for c in chunks), 0),
        "blks_hit": each(sum(c.blks_hit for c in chunks)),
        "blks_read": each(sum(c.blks_read for c in chunks), 2),
        "index_blocks": each(sum(sum(c.index_blocks.values()) for c in chunks)),
        "ms": each(sum(c.seconds for c in chunks) * 1000, 3),
        "index_blocks_by_index": per_index,
    }


def option(text: int | None, quick: bool) -> int:
    """--index-ballots: ballots per chunk, FULL_BALLOTS or QUICK_BALLOTS by default."""
    return (QUICK_BALLOTS if quick else FULL_BALLOTS) if text is None else max(0, text)


def report_alone(report: dict | None, results_file: Path) -> int:
    """--index-only: print the figures and put them into the results file beside the
    last full run's figures."""
    print_report(report)
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    results["ballot_indexes"] = report
    results_file.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    return 0


def measure(
    database_url: str,
    batch_id: int,
    ballots: int,
    log: Callable[[str], None] = print,
    keep: bool = False,
) -> dict | None:
    """Both copies, ROUNDS chunks of `ballots` each, alternating; the report for
    results.json (None when `ballots` is 0). The Django connection must be closed
    (a template database cannot have sessions)."""
    if ballots <= 0:
        return None
    started = time.monotonic()
    run_key = f"index-bench-{secrets.token_hex(4)}"
    urls, sizes = {}, {}
    try:
        for variant in VARIANTS:
            log(f"ballot indexes: copying the database for '{variant}' (reindexed, untimed)")
            urls[variant] = prepare_copy(database_url, variant, ballots * ROUNDS, run_key)
            sizes[variant] = _index_sizes(urls[variant])
        table_ballots = _ballot_count(urls["now"])
        followers = _follower_ids(urls["now"], run_key)
        if followers != _follower_ids(urls["before"], run_key):
            raise RuntimeError("the copies' new followers differ: not the same ballots")
        chunks: list[Chunk] = []
        for round_number in range(ROUNDS):
            order = VARIANTS if round_number % 2 == 0 else VARIANTS[::-1]
            mine = followers[round_number * ballots : (round_number + 1) * ballots]
            for variant in order:
                chunk = store_chunk(urls[variant], variant, round_number, batch_id, mine, run_key)
                chunks.append(chunk)
                log(
                    f"  {variant:<6} round {round_number + 1}: {chunk.ballots} ballots, "
                    f"{chunk.wal_bytes / max(chunk.ballots, 1):,.0f} WAL bytes and "
                    f"{sum(chunk.index_blocks.values()) / max(chunk.ballots, 1):.1f} "
                    "index blocks per ballot"
                )
    finally:
        if not keep:
            for url in urls.values():
                harness.drop_database(url)
    report = {
        "method": (
            "the same ballots stored through ballots.storing.store_ballot, one transaction "
            f"each, into two copies of the benchmark's database (reindexed), {ROUNDS} chunks "
            f"of {ballots} per copy alternating, a CHECKPOINT before each chunk; WAL from "
            "pg_stat_wal, buffers from pg_stat_database and pg_statio_user_indexes"
        ),
        "ballots_in_table": table_ballots,
        "dropped": [name for name, _column, _like in dropped_indexes()],
        "variants": {},
        "seconds": round(time.monotonic() - started, 1),
    }
    for variant in VARIANTS:
        mine = [chunk for chunk in chunks if chunk.variant == variant]
        report["variants"][variant] = {
            "indexes": len(sizes[variant]),
            "index_mb": round(sum(sizes[variant].values()) / 2**20, 1),
            "index_mb_by_index": {k: round(v / 2**20, 1) for k, v in sizes[variant].items()},
            "per_ballot": _per_ballot(mine),
            "chunks": [asdict(chunk) for chunk in mine],
        }
    now, before = (report["variants"][v]["per_ballot"] for v in VARIANTS)
    report["now_vs_before"] = {
        key: round(now[key] / before[key], 3) if before[key] else None
        for key in ("wal_records", "wal_fpi", "wal_bytes", "blks_hit", "index_blocks", "ms")
    }
    report["now_vs_before"]["index_mb"] = round(
        report["variants"]["now"]["index_mb"] / report["variants"]["before"]["index_mb"], 3
    )
    return report


def _ballot_count(url: str) -> int:
    connection = harness.connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {TABLE}")  # noqa: S608 (a constant)
            return cursor.fetchone()[0]
    finally:
        connection.close()


def _follower_ids(url: str, run_key: str) -> list[int]:
    connection = harness.connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM ballots_follower WHERE key LIKE %s ORDER BY id", [run_key + "-%"]
            )
            return [row[0] for row in cursor.fetchall()]
    finally:
        connection.close()


def print_report(report: dict | None) -> None:
    if not report:
        return
    header = (
        f"{'ballot table indexes':<24}{'indexes':>8}{'MB':>8}{'WAL B':>9}{'WAL rec':>9}"
        f"{'FPI':>7}{'buf hit':>9}{'idx blk':>9}{'ms':>8}"
    )
    print(f"ballot table's indexes, {report['ballots_in_table']:,} ballots in the table:")
    print(header)
    print("-" * len(header))
    for variant in VARIANTS:
        data = report["variants"][variant]
        each = data["per_ballot"]
        print(
            f"{variant:<24}{data['indexes']:>8}{data['index_mb']:>8.0f}{each['wal_bytes']:>9,.0f}"
            f"{each['wal_records']:>9.1f}{each['wal_fpi']:>7.2f}{each['blks_hit']:>9.1f}"
            f"{each['index_blocks']:>9.1f}{each['ms']:>8.2f}"
        )
    ratio = report["now_vs_before"]
    print(
        f"{'now ÷ before':<24}{'':>8}{ratio['index_mb']:>7.2f}×{ratio['wal_bytes']:>8.2f}×"
        f"{ratio['wal_records']:>8.2f}×{ratio['wal_fpi'] or 0:>6.2f}×{ratio['blks_hit']:>8.2f}×"
        f"{ratio['index_blocks']:>8.2f}×{ratio['ms']:>7.2f}×"
    )
    print(
        "\nper ballot, each its own transaction through ballots.storing, after a CHECKPOINT;"
        "\nWAL from pg_stat_wal, buffer hits from pg_stat_database, idx blk = block accesses"
        " of\nballots_ballot's indexes (pg_statio_user_indexes), ms = wall time in this"
        " process.\n",
        flush=True,
    )
