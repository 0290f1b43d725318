"""Faults under load: a gunicorn worker killed, PostgreSQL stopped for ten seconds.

Voters here click once (double clicks are test_voting_under_load's subject); a journey
that meets the fault (no answer, or the 503 page) is abandoned and a new one started.
"""

import os
import signal
import time

import pytest

from . import harness
from .voters import (
    TRACEBACK_MARKERS,
    UNAVAILABLE_TEXT,
    Browser,
    LoadRun,
    Stats,
    first_ballot_within,
    summary,
)

pytestmark = [pytest.mark.load, pytest.mark.postgres, *harness.needs_postgresql_and_gunicorn()]

KILL_VOTERS = 24
KILL_SECONDS = 24
KILL_AT = (6.0, 13.0)  # seconds into the load; one worker SIGKILLed each time
KILL_SEARCH_SECONDS = 5.0
RESPAWN_TIMEOUT = 15

OUTAGE_VOTERS = 16
OUTAGE_STARTS_AT = 5.0
OUTAGE_SECONDS = 10.0
RECOVERY_TIMEOUT = 30.0
LOAD_AFTER_RESTART = 8.0
# Pages that need the database answer 503 during an outage. Public pages a worker
# has cached may still be served from its memory, and the follow gate needs no
# database: those are whole pages (never a traceback) or the 503 page.
PAGES_NEEDING_DATABASE = ["/receipt/ABCDEFGHJK/"]
PAGES_MAYBE_CACHED = ["/", "/cases/031/", "/results/", "/vote/"]
PAGES_DURING_OUTAGE = PAGES_NEEDING_DATABASE + PAGES_MAYBE_CACHED


def uncertain_outcome(stats: Stats, found: harness.Audit) -> str:
    stored = sum(1 for nonce in stats.uncertain if nonce in found.nonces)
    return f"{len(stats.uncertain)} ballot POSTs without a receipt, {stored} of them stored"


def assert_whole_and_kept(stats: Stats, found: harness.Audit) -> None:
    assert found.ballots_without_choices == 0, "a ballot was stored without its choices"
    assert found.choices_without_ballot == 0, "a choice was stored without its ballot"
    assert harness.unkept_acknowledgements(stats.acks, found) == []
    assert found.duplicates_per_period == [] and found.duplicates_per_day == []


def test_it_keeps_acknowledged_ballots_whole_when_a_worker_is_killed(site):
    """Kill 1 lands inside a ballot's transaction (its one statement waiting to write the
    ballot and its choices); kill 2 on a worker in the middle of any request."""
    run = LoadRun(site.port, count=KILL_VOTERS, seconds=KILL_SECONDS, retriers=False).start()
    kills = []
    for at, how in zip(KILL_AT, ("inside a ballot transaction", "mid-request"), strict=True):
        time.sleep(max(0.0, at - run.since_start()))
        if how == "mid-request":
            victim = harness.worker_serving_a_request(site, timeout=KILL_SEARCH_SECONDS)
            if victim is not None:
                os.kill(victim, signal.SIGKILL)
        else:
            victim = harness.kill_worker_inside_a_ballot(
                site, site.database_url, timeout=KILL_SEARCH_SECONDS
            )
        assert victim is not None, f"found no worker {how} within {KILL_SEARCH_SECONDS} s"
        killed = time.monotonic()
        replacements = site.wait_for_workers(excluding={victim}, timeout=RESPAWN_TIMEOUT)
        kills.append((how, victim, killed, replacements, time.monotonic() - killed))
    stats = run.join()
    probe = first_ballot_within(site.port, RECOVERY_TIMEOUT, Stats())
    found = harness.audit(site.database_url)
    last_kill = kills[-1][2]
    after_last_kill = [ack for ack in stats.acks if ack.at > last_kill + 1]

    print(f"\n[load] worker kills: {summary(stats, run.elapsed)}")
    for how, victim, killed, replacements, seconds in kills:
        print(
            f"[load] SIGKILL worker {victim} {how} at {killed - run.started:.1f} s: "
            f"workers {sorted(replacements or [])} {seconds:.2f} s later"
        )
    print(
        f"[load] stored {found.ballots} ballots, {len(stats.acks)} acknowledged, "
        f"{len(after_last_kill)} after the last kill; {uncertain_outcome(stats, found)}; "
        f"a new voter after the load: {probe and f'{probe:.1f} s'}"
    )
    assert all(kill[3] for kill in kills), "gunicorn did not replace a killed worker"
    assert stats.server_error_count() == 0, stats.server_errors
    assert stats.failures == [], "\n".join(stats.failures)
    assert_whole_and_kept(stats, found)
    assert after_last_kill, "no ballot was acknowledged after the last kill"
    assert probe is not None, f"no voter completed the journey within {RECOVERY_TIMEOUT} s"


@harness.needs_postgresql_binaries
def test_it_answers_503_while_postgresql_is_down_and_recovers_by_itself(fault_cluster, fault_site):
    run = LoadRun(fault_site.port, count=OUTAGE_VOTERS, seconds=60, retriers=False).start()
    time.sleep(max(0.0, OUTAGE_STARTS_AT - run.since_start()))
    acks_before = len(run.stats.acks)
    fault_cluster.stop()
    stopped = time.monotonic()
    time.sleep(OUTAGE_SECONDS / 2)
    visitor = Browser(fault_site.port, run.stats, "casevote-load/outage-visitor")
    outage_pages = {path: visitor.get(path) for path in PAGES_DURING_OUTAGE}
    time.sleep(max(0.0, stopped + OUTAGE_SECONDS - time.monotonic()))
    unavailable_during_outage = run.stats.unavailable
    fault_cluster.start()
    restarted = time.monotonic()
    probe_stats = Stats()
    recovery = first_ballot_within(fault_site.port, RECOVERY_TIMEOUT, probe_stats)
    time.sleep(max(0.0, restarted + LOAD_AFTER_RESTART - time.monotonic()))
    run.stop()
    stats = run.join()
    found = harness.audit(fault_cluster.url)
    after_restart = [ack for ack in stats.acks if ack.at > restarted]

    print(f"\n[load] PostgreSQL outage: {summary(stats, run.elapsed)}")
    print(
        f"[load] down {restarted - stopped:.1f} s from {stopped - run.started:.1f} s: "
        f"{acks_before} ballots before, {unavailable_during_outage} 503 pages, "
        f"first new ballot {recovery and f'{recovery:.1f}'} s after the restart, "
        f"{len(after_restart)} ballots by the load after it; stored {found.ballots}; "
        f"{uncertain_outcome(stats, found)}"
    )
    for path, page in outage_pages.items():
        expected = (503,) if path in PAGES_NEEDING_DATABASE else (200, 503)
        assert page.status in expected, f"{path} during the outage: {page.status} {page.excerpt()}"
        if page.status == 503:
            assert UNAVAILABLE_TEXT in page.text
        else:
            assert "</html>" in page.text  # a whole page from the worker's cache
        assert not any(marker in page.text for marker in TRACEBACK_MARKERS), page.text
    assert stats.server_error_count() == stats.unavailable, stats.server_errors
    assert probe_stats.server_error_count() == probe_stats.unavailable, probe_stats.server_errors
    assert stats.failures == [], "\n".join(stats.failures)
    assert recovery is not None, f"no voter completed a ballot {RECOVERY_TIMEOUT} s after restart"
    assert after_restart, "the load did not vote again after the restart"
    assert_whole_and_kept(stats, found)
    assert harness.traceback_lines(fault_site.log()) == []
