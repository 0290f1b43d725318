"""The browser tier: Playwright for Python drives Debian's Chromium against a live server.

Chromium comes from Debian (`apt-get install -y chromium`), not from Playwright's own
download, which does not work on our machines. The whole tier is skipped with a reason
where /usr/bin/chromium or the playwright package is missing. Every step of a journey
saves a full-page PNG under artifacts/screenshots/ (git-ignored) for a person to look at.
"""

import importlib
import os
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from cases.models import Batch
from tests.tiers import OptionalTier

from .journeys import phone_problems

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

CHROMIUM = os.environ.get("CASEVOTE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(settings.BASE_DIR) / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"

# A mid-range Android phone: 390×844 CSS pixels, touch, Chrome's mobile user agent.
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 1,
    "user_agent": (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36"
    ),
}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
COMMON = {"locale": "zh-CN", "timezone_id": "Asia/Shanghai"}
TIMEOUT_MS = 30_000  # generous: two shared cores, other suites running beside us

# The real batch-2 catalogue, as `make serve` loads it.
BATCH2 = Path(settings.BASE_DIR) / "fixtures" / "batch2.json"


def has_chinese_font() -> bool:
    """Whether fontconfig (as Chromium will see it) has a font with Chinese glyphs."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return False
    try:
        found = subprocess.run(  # noqa: S603 (a fixed command)
            [fc_list, ":lang=zh", "family"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return found.returncode == 0 and bool(found.stdout.strip())


def skip_reason() -> str | None:
    if sync_playwright is None:
        return "browser tier needs the playwright package (pip install -r requirements-dev.txt)"
    if not os.access(CHROMIUM, os.X_OK):
        return (
            f"browser tier needs Debian's Chromium at {CHROMIUM} "
            "(apt-get install -y chromium fonts-wqy-microhei)"
        )
    if not has_chinese_font():
        # Without one Chromium draws Chinese as narrow boxes, and the width and tap-target
        # checks would measure those: a misleading failure, not a finding.
        return "browser tier needs a Chinese font (apt-get install -y fonts-wqy-microhei)"
    return None


tier = OptionalTier("browser", skip_reason)
pytest_collection_modifyitems = tier.collection_modifyitems
pytest_sessionfinish = tier.sessionfinish
pytest_terminal_summary = tier.terminal_summary


@pytest.fixture(scope="session")
def browser():
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    # The sync Playwright API runs an event loop in this thread; Django would then refuse
    # the ORM calls the tests make beside the page ("You cannot call this from an async
    # context"). The tests are synchronous, so it is safe while the browser runs.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            # Playwright gives every launch a fresh, temporary profile.
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def _page(browser, options: dict):
    context = browser.new_context(**COMMON, **options)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    return context, page


@pytest.fixture
def phone(browser):
    """A resident's phone: a fresh context (no cookies) at 390×844 with touch."""
    context, page = _page(browser, PHONE)
    yield page
    context.close()


@pytest.fixture
def desktop(browser):
    """The committee's desktop browser at 1280×800."""
    context, page = _page(browser, DESKTOP)
    yield page
    context.close()


class Screenshots:
    """Numbered full-page screenshots of one test: artifacts/screenshots/<test>/NN-step.png."""

    def __init__(self, folder: Path):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.folder = folder
        self.count = 0

    def save(self, page, step: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{step.replace(' ', '-')}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    def __call__(self, page, step: str) -> Path:
        """Save the page; on a phone, also check it fits the screen and fingers."""
        path = self.save(page, step)
        if page.viewport_size["width"] <= PHONE["viewport"]["width"]:
            assert phone_problems(page) == [], f"{path.name} ({page.url})"
        return path


@pytest.fixture
def shot(request) -> Screenshots:
    name = re.sub(r"[^\w-]+", "-", request.node.name).strip("-")
    return Screenshots(SCREENSHOTS / name)


@pytest.fixture
def site(browser, transactional_db, live_server, settings):
    """The live server with batch 2 loaded (the editors' command), published and open
    for 30 days.

    The live server's thread needs committed data, so these tests are transactional:
    each ends by emptying every table, the data migrations' groups included (and
    `serialized_rollback` cannot restore them: Playwright's greenlets give Django fresh
    connection objects). `staff_groups()` puts the groups back for the tests that log in.
    """
    # Ballots come back as fast as Playwright can click; the dwell rule has its own tests.
    settings.CASEVOTE_MIN_DWELL_SECONDS = 0
    # Plain http on loopback, as `make serve` runs it.
    settings.CASEVOTE_SECURE_COOKIES = False
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    call_command("load_cases", str(BATCH2), verbosity=0)
    call_command("publish_batch", "--batch", "2", "--reason", "浏览器测试：发布第2批", verbosity=0)
    open_voting(Batch.objects.get(number=2))
    return live_server


def staff_groups() -> None:
    """The 组委会 and 编辑 groups, as their data migration creates them."""
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    if Group.objects.filter(name="组委会").exists():
        return
    migration = importlib.import_module("ballots.migrations.0001_squashed_0005_follower_wechat")
    migration.create_groups(MigrationExecutor(connection).loader.project_state().apps, None)


def open_voting(batch: Batch, *, days: int = 30, **fields) -> Batch:
    now = timezone.now()
    batch.voting_opens_at = now - timedelta(days=6)
    batch.voting_closes_at = now + timedelta(days=days)
    for name, value in fields.items():
        setattr(batch, name, value)
    batch.save()  # the live server's cached pages and catalogue see it at once
    return batch
