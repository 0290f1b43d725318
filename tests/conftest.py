import contextlib
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings

from cases.models import Batch, Case


@pytest.fixture(autouse=True)
def _test_settings(settings):
    """A fast hasher, and static files without collectstatic's manifest."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _empty_cache(settings, tmp_path_factory):
    """Each test starts with empty caches; a file-based shared cache lives in a temp
    folder (a Redis one, CASEVOTE_SHARED_CACHE_URL, is the server's: cleared too)."""
    from django.core.cache import caches

    if settings.CACHES["shared"]["BACKEND"].endswith("FileBasedCache"):
        settings.CACHES = {
            **settings.CACHES,
            "shared": {
                **settings.CACHES["shared"],
                "LOCATION": str(tmp_path_factory.getbasetemp() / "shared-cache"),
            },
        }
    for alias in ("default", "shared"):
        caches[alias].clear()
    yield
    from casevote.sharedcache import SharedCacheUnavailable

    for alias in ("default", "shared"):
        with contextlib.suppress(SharedCacheUnavailable):  # a test's unreachable Redis
            caches[alias].clear()


# Batch 2 was published before its vote opened (tests of drafts make their own batches).
PUBLISHED = datetime(2026, 11, 30, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def batch2(db) -> Batch:
    return Batch.objects.create(
        number=2,
        name="第二批初选入围案例",
        notice="第一段公告。\n\n第二段公告：严禁刷票。",
        first_number=31,
        last_number=60,
        published_at=PUBLISHED,
    )


@pytest.fixture
def make_case(batch2):
    def make(
        number: int, title: str = "", province: str = "北京市", body: str = "", **extra
    ) -> Case:
        return Case.objects.create(
            number=number,
            batch=extra.pop("batch", batch2),
            title=title or f"测试社区{number}",
            province=province,
            body=body or f"第一段，案例{number}。\n\n第二段，案例{number}。",
            **extra,
        )

    return make


@pytest.fixture
def batch2_loaded(db):
    """The real batch-2 catalogue, loaded with the editors' command."""
    from django.core.management import call_command

    call_command("load_cases", str(settings.BASE_DIR / "fixtures" / "batch2.json"), verbosity=0)
    Batch.objects.filter(number=2).update(published_at=PUBLISHED)
    return Batch.objects.get(number=2)


# --- Voting -------------------------------------------------------------------
import re  # noqa: E402
from datetime import datetime, timedelta  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

import time_machine  # noqa: E402

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A fixed moment inside the voting window: Friday 2026-12-04 10:00 in Beijing.
VOTING_NOW = datetime(2026, 12, 4, 10, 0, tzinfo=SHANGHAI)
OPENS = datetime(2026, 12, 1, 8, 0, tzinfo=SHANGHAI)
CLOSES = datetime(2026, 12, 31, 20, 0, tzinfo=SHANGHAI)


@pytest.fixture
def clock():
    """Frozen time at VOTING_NOW; `clock.shift(seconds)` / `clock.move_to(dt)` travel."""
    with time_machine.travel(VOTING_NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def open_batch(batch2, make_case):
    """Batch 2 with cases 031–040, open from 12-01 08:00 to 12-31 20:00 (Beijing)."""
    for number in range(31, 41):
        make_case(number)
    batch2.voting_opens_at = OPENS
    batch2.voting_closes_at = CLOSES
    batch2.save()
    return batch2


FOLLOW_LINK = re.compile(r'href="(?:https?://[^/"]+)?(/follow/[^/"]+/)"')


def follow_through_gate(client) -> None:
    """Meet the gate on /vote/, open the follow link it offers, confirm."""
    gate = client.get("/vote/")
    link = FOLLOW_LINK.search(gate.content.decode()).group(1)
    response = client.post(link)
    assert response.status_code == 302, response


@pytest.fixture
def voter(client, open_batch, clock):
    """A browser that has followed the account (through the local gate)."""
    follow_through_gate(client)
    return client


def form_token(page) -> str:
    return re.search(r'name="token" value="([^"]+)"', page.content.decode()).group(1)


@pytest.fixture
def cast(voter, clock):
    """Open the ballot page, wait like a reader, submit `numbers`; returns the response."""

    def submit(numbers, wait: float = 5, extra: dict | None = None, token=None, **headers):
        if token is None:
            token = form_token(voter.get("/vote/"))
        clock.shift(timedelta(seconds=wait))
        data = {"cases": list(numbers), "token": token, "website": "", **(extra or {})}
        return voter.post("/vote/", data, **headers)

    return submit


# --- Staff --------------------------------------------------------------------


def _staff(username: str, group: str | None):
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(username, password="pw", is_staff=True)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def committee_member(db):
    return _staff("committee", "组委会")


@pytest.fixture
def editor(db):
    return _staff("editor", "编辑")


@pytest.fixture
def outsider(db):
    """Staff in no group: sees nothing they are not given."""
    return _staff("outsider", None)


@pytest.fixture
def committee_client(client, committee_member):
    client.force_login(committee_member)
    return client


def make_ballot(batch, numbers, *, ip="198.51.100.1", when=None, status="valid"):
    """A stored ballot (as if cast) for the cases `numbers` of `batch`."""
    from django.utils import timezone

    from ballots.models import Ballot, Choice, Follower, new_receipt_code

    when = when or timezone.now()
    follower = Follower.objects.create(key=new_receipt_code(), followed_at=when)
    ballot = Ballot.objects.create(
        follower=follower,
        batch=batch,
        period=timezone.localdate(when).isoformat(),
        cast_at=when,
        cast_day=timezone.localdate(when),
        form_served_at=when,
        form_nonce=new_receipt_code(),
        ip_address=ip,
        ip_network=ip,
        ip_subnet=ip.rsplit(".", 1)[0] + ".0/24",
        receipt=new_receipt_code(),
        status=status,
    )
    cases = batch.cases.filter(number__in=numbers)
    Choice.objects.bulk_create(Choice(ballot=ballot, case=case) for case in cases)
    return ballot


# --- Simulated polls (brushing detection) ----------------------------------------
# Five back-dated days of simulated voting, ending before any test runs.
SIMULATION_END = datetime(2026, 11, 20, 0, 0, tzinfo=SHANGHAI)
SIMULATION_DAYS = 5


@pytest.fixture
def simulation_batch(batch2_loaded):
    """The real batch-2 catalogue (031–060), open over the simulated days."""
    batch2_loaded.voting_opens_at = SIMULATION_END - timedelta(days=SIMULATION_DAYS + 1)
    batch2_loaded.voting_closes_at = SIMULATION_END + timedelta(days=1)
    batch2_loaded.save()
    return batch2_loaded


# --- The shared cache on Redis ----------------------------------------------------------


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A redis-server for the session (skipped, in one line, where there is none)."""
    from tests.redis_server import MISSING, REDIS_SERVER, RedisServer

    if REDIS_SERVER is None:
        pytest.skip(MISSING)
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


def redis_cache_settings(url: str) -> dict:
    return {
        "BACKEND": "casevote.sharedcache.RedisSharedCache",
        "LOCATION": url,
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }


@pytest.fixture
def redis_cache(settings, redis_server, monkeypatch):
    """The shared cache on the test Redis, emptied; this process's view of Redis healthy."""
    from django.core.cache import caches

    from casevote import freshness, sharedcache

    monkeypatch.setattr(sharedcache, "HEALTH", sharedcache._Health())
    monkeypatch.setattr(freshness, "_renewal_owed", False)
    settings.CACHES = {**settings.CACHES, "shared": redis_cache_settings(redis_server.url)}
    redis_server.client().flushdb()
    caches["default"].clear()
    yield redis_server
    redis_server.client().flushdb()
