"""The benchmark's anchor project (bench/anchors) serves what `make bench` measures: a bare
view, the tutorial's list of the 30 cases and the tutorial's vote without CSRF.

It has settings of its own, so it runs in a subprocess (in-memory SQLite here; PostgreSQL
in the benchmark), driven by Django's test client."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import json
import django
from django.core.management import call_command
from django.test import Client

django.setup()
call_command("makemigrations", "--check", "--dry-run", verbosity=0)  # exits 1 if any is missing
call_command("migrate", verbosity=0)
call_command("load_tutorial_cases", "fixtures/batch2.json", verbosity=0)
from bench.anchors.tutorial.models import Ballot, Case, Choice

client = Client(enforce_csrf_checks=True)
bare = client.get("/bare")
index = client.get("/")
vote = client.post("/vote/", {"cases": ["031", "045", "060"]})
unknown = client.post("/vote/", {"cases": ["031", "099", "060"]})
print(json.dumps({
    "bare": [bare.status_code, bare.content.decode(), bare.headers.get("X-Frame-Options")],
    "index": [index.status_code, index.content.decode()],
    "vote": [vote.status_code, vote.headers.get("Location")],
    "unknown": unknown.status_code,
    "get_vote": client.get("/vote/").status_code,
    "ballots": Ballot.objects.count(),
    "choices": Choice.objects.count(),
    "votes": dict(Case.objects.filter(votes__gt=0).values_list("number", "votes")),
}))
"""


def run_anchors() -> dict:
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "bench.anchors.settings",
        "DATABASE_URL": "sqlite://:memory:",  # one connection: the script's
        "SECRET_KEY": "anchors-test-key",
        "ALLOWED_HOSTS": "testserver",
    }
    result = subprocess.run(  # noqa: S603 (this interpreter, our own script)
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_it_serves_the_bare_view_the_tutorial_list_and_the_tutorial_vote():
    found = run_anchors()

    assert found["bare"] == [200, "ok", "DENY"]  # the default middleware ran
    status, page = found["index"]
    assert status == 200
    assert page.count("<li>") == 30 and "031" in page and "060" in page
    assert found["vote"] == [302, "/"]  # stored without any CSRF token
    assert found["unknown"] == 400
    assert found["get_vote"] == 405
    assert found["ballots"] == 1 and found["choices"] == 3
    assert found["votes"] == {"31": 1, "45": 1, "60": 1}
