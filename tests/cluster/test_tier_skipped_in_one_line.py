"""Without PostgreSQL in DATABASE_URL, `make test` still passes: the cluster tier is left
out with one line naming what is missing (as tests/test_bare_machine.py checks for the
browser tier). Not a cluster test itself: it runs in the fast suite, in seconds."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_without_postgresql_the_cluster_tier_is_left_out_in_one_line():
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}

    result = subprocess.run(  # noqa: S603 (this interpreter, our own arguments)
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-m", "cluster"]
        + ["tests/cluster"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    said = [line for line in result.stdout.splitlines() if "cluster tier" in line]
    assert len(said) == 1, f"the skip is not said in one line: {said}"
    assert re.fullmatch(
        r"SKIPPED cluster tier \(\d+ tests\): cluster tier needs PostgreSQL: .+", said[0]
    ), said[0]
