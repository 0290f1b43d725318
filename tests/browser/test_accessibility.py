"""axe-core on every public page a resident meets: no serious or critical violations
(and, on the phone, nothing wider than the screen and no tap target under 44 px).

axe comes from node_modules (package-lock.json pins it; `make test` runs `npm ci` when
it is missing). It is evaluated through the DevTools protocol (`page.evaluate`), which
the page's Content-Security-Policy does not govern, so the pages are audited with their
real, strict CSP; `add_script_tag` would insert an inline script that the CSP blocks.
"""

import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone

from ballots import moderation
from cases.models import Batch, Case

from .journeys import choose, follow, phone_problems, submit

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
BLOCKING = {"serious", "critical"}


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        if shutil.which("npm") is None:  # a bare machine: say what is missing, do not fail
            pytest.skip("the axe test needs Node and npm (apt-get install -y nodejs npm)")
        pytest.fail(f"{AXE} is missing: run `npm ci` (make test does it)")
    return AXE.read_text(encoding="utf-8")


def violations(page, axe_source: str) -> list[str]:
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source)
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", RULES
    )
    return [
        f"{v['impact']} {v['id']}: {v['help']} — "
        + "; ".join(node["target"][0] for node in v["nodes"][:5])
        for v in result["violations"]
        if v["impact"] in BLOCKING
    ]


@pytest.fixture
def published(site):
    """A case disqualified with an announcement, one selected, results and list public."""
    committee = User.objects.create_user("audit", is_staff=True, is_superuser=True)
    moderation.disqualify_case(
        Case.objects.get(number=59),
        user=committee,
        reason="监测证据确凿",
        title="关于取消059号案例推选资格的公告",
        body="经组委会核查，该案例存在组织刷票行为，取消其推选资格。",
    )
    Case.objects.filter(number__in=[31, 45]).update(status=Case.Status.SELECTED)
    Batch.objects.filter(number=2).update(
        results_visibility=Batch.ResultsVisibility.LIVE, selected_published_at=timezone.now()
    )
    return site


def test_no_page_a_resident_meets_has_serious_accessibility_violations(
    published, phone, axe_source, shot
):
    page, url = phone, published.url
    found = {}

    def audit(name: str) -> None:
        found[name] = violations(page, axe_source) + phone_problems(page)
        shot.save(page, name)

    page.goto(url + "/?province=四川省")
    audit("campaign")
    page.goto(url + "/cases/031/")
    audit("case")
    page.goto(url + "/cases/059/")
    audit("disqualified case")
    page.goto(url + "/vote/")
    audit("gate")
    follow_link = page.locator("img.qr").get_attribute("src").removesuffix("qr.png")
    page.goto(url + follow_link)
    audit("follow")
    page.goto(url + "/vote/")
    follow(page)
    audit("ballot")
    choose(page, "031", "032")
    submit(page)
    audit("confirmation")
    page.get_by_role("link", name="查询选票状态").click()
    page.wait_for_url("**/receipt/*/")
    audit("receipt")
    page.goto(url + "/vote/")
    audit("already voted")
    for name, path in [
        ("results", "/results/"),
        ("announcements", "/announcements/"),
        ("announcement", "/announcements/1/"),
        ("selected", "/selected/"),
    ]:
        page.goto(url + path)
        audit(name)

    assert {name: found_ for name, found_ in found.items() if found_} == {}
