"""32 voters at once for a minute against gunicorn and PostgreSQL: every acknowledged
ballot is stored exactly once, double clicks included, and nothing answers 5xx."""

import os

import pytest

from . import harness
from .voters import LoadRun, summary

pytestmark = [pytest.mark.load, pytest.mark.postgres, *harness.needs_postgresql_and_gunicorn()]

VOTERS = 32  # half of them click every button twice or three times and reload every page
SECONDS = float(os.environ.get("CASEVOTE_LOAD_SECONDS", "60"))


def test_it_stores_exactly_the_acknowledged_ballots_of_32_concurrent_voters(site):
    run = LoadRun(site.port, count=VOTERS, seconds=SECONDS).start()
    stats = run.join()
    found = harness.audit(site.database_url)

    print(f"\n[load] {VOTERS} voters, half double-clicking: {summary(stats, run.elapsed)}")
    print(
        f"[load] stored: {found.ballots} ballots, {found.choices} choices, "
        f"{found.followers} followers; refused journeys: {len(stats.failures)}"
    )
    assert stats.server_error_count() == 0, stats.server_errors
    assert stats.unreachable == 0 and not stats.abandoned, stats.abandoned
    acknowledged = {ack.receipt for ack in stats.acks}
    assert len(acknowledged) == len(stats.acks)
    assert acknowledged == set(found.stored) and found.ballots == len(stats.acks)
    assert harness.unkept_acknowledgements(stats.acks, found) == []
    assert found.duplicates_per_period == [] and found.duplicates_per_day == []
    assert found.ballots_without_choices == 0 and found.choices_without_ballot == 0
    assert any(ack.retrier for ack in stats.acks) and not all(ack.retrier for ack in stats.acks)
    assert stats.events["double-clicked ballots"] > 0 and stats.events["second forms refused"] > 0
    # Every click of one form gets its receipt; only another form gets 409.
    assert stats.failures == [], "\n".join(stats.failures)
    assert harness.traceback_lines(site.log()) == []
