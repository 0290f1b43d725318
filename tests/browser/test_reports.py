"""A resident reports an agency with a screenshot from a phone; a committee member
reviews it at a desktop; the resident's status page shows the new status, not the note."""

import importlib
import re

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from reports.models import Report, ReportDecision
from tests.reports_helpers import jpeg_with_gps

from . import test_accessibility as a11y
from .conftest import staff_groups
from .test_committee import PASSWORD, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def committee_may_review() -> None:
    """The transactional tier empties the tables: give the 组委会 group its report
    permissions and put the first 防骗提示 back, as reports' data migration does."""
    staff_groups()
    migration = importlib.import_module(
        "reports.migrations.0002_committee_permissions_and_default_notice"
    )
    apps = MigrationExecutor(connection).loader.project_state().apps
    migration.grant(apps, None)
    migration.default_notice(apps, None)


@pytest.fixture
def member(site):
    committee_may_review()
    user = User.objects.create_user("weiyuan", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name="组委会"))
    return user


def test_a_resident_reports_from_a_phone_and_the_committee_reviews_it(
    site, member, phone, desktop, shot, settings, tmp_path
):
    axe = a11y.AXE.read_text(encoding="utf-8") if a11y.AXE.exists() else None
    found = {}

    def audit(page, name: str) -> None:
        """axe-core, as the accessibility test runs it, on the pages a reporter meets."""
        if axe is not None:
            found[name] = a11y.violations(page, axe)

    settings.STORAGES = {
        **settings.STORAGES,
        "reports": {
            **settings.STORAGES["reports"],
            "OPTIONS": {**settings.STORAGES["reports"]["OPTIONS"], "location": str(tmp_path)},
        },
    }
    page = phone
    page.goto(site.url + "/")
    assert "从不收取任何费用" in page.locator(".fraud-notice").inner_text()
    page.locator(".case-item a").first.tap()
    page.wait_for_url(re.compile(r"/cases/\d{3}/$"))
    number = page.url.rstrip("/").rsplit("/", 1)[1]
    page.get_by_role("link", name=re.compile("向组委会举报")).last.tap()
    page.wait_for_url(re.compile(rf"/report/\?case={number}$"))
    assert page.get_by_label("刷票线索（某个案例）").is_checked()
    assert page.get_by_label("涉及的案例").input_value() == str(int(number))
    shot(page, "report-form-about-a-case")
    audit(page, "form")

    # First without a date: refused in Chinese, the text kept.
    page.get_by_label("发生了什么").fill("某微信群里有人发链接，说每票 2 元，可以代刷到前十名。")
    with page.expect_navigation():
        page.get_by_role("button", name="提交举报").tap()
    assert "这个字段是必填项。" in page.locator("#div_id_happened_on").inner_text()
    assert "每票 2 元" in page.get_by_label("发生了什么").input_value()
    shot(page, "refused-without-a-date")
    audit(page, "refused")

    page.get_by_label("发生日期").fill(timezone.localdate().isoformat())
    page.get_by_label("联系方式（选填）").fill("微信 resident123")
    page.get_by_label("截图（选填，最多 3 张）").set_input_files(
        [{"name": "群聊截图.jpg", "mimeType": "image/jpeg", "buffer": jpeg_with_gps(390, 844)}]
    )
    with page.expect_navigation():
        page.get_by_role("button", name="提交举报").tap()
    assert page.get_by_role("heading", level=1).inner_text() == "举报已提交", page.locator(
        "form#report"
    ).inner_text()[-800:]
    code = page.locator(".report-code").inner_text()
    assert re.fullmatch(r"[A-Z2-9]{4}(-[A-Z2-9]{4}){3}", code)
    shot(page, "filed-with-code")
    audit(page, "filed")
    report = Report.objects.get()
    assert report.case.display_number == number
    assert report.screenshots.count() == 1

    # The committee member at a desktop: the queue, the report, its screenshot.
    log_in(desktop, site.url, member)
    desktop.goto(site.url + "/admin/reports/report/")
    desktop.get_by_role("link", name=code).click()
    desktop.wait_for_url(re.compile(rf"/admin/reports/report/{report.pk}/change/$"))
    assert "微信 resident123" in desktop.content()
    assert desktop.get_by_role("link", name=re.compile(f"刷票监测：{number}号案例")).is_visible()
    with desktop.context.expect_page() as opened:
        desktop.get_by_role("link", name="查看截图 1").click()
    image = opened.value
    image.wait_for_load_state()
    assert image.evaluate("() => document.images.length && document.images[0].naturalWidth") == 390
    image.close()
    desktop.get_by_label("处理后状态").select_option("reviewing")
    desktop.get_by_label("处理意见（内部，举报人看不到）").fill(
        "已截图转交属地核查，疑为某传媒公司"
    )
    shot(desktop, "committee-reviews")
    with desktop.expect_navigation():
        desktop.get_by_role("button", name="保存", exact=True).click()
    decision = ReportDecision.objects.get()
    assert (decision.to_status, decision.decided_by) == ("reviewing", member)

    # Back on the phone: the status, not the note.
    with page.expect_navigation():
        page.get_by_role("link", name="举报进度查询").first.tap()
    page.get_by_label("查询码").fill(code.lower().replace("-", " "))
    with page.expect_navigation():
        page.get_by_role("button", name="查询").tap()
    assert page.locator(".report-status").inner_text() == "正在核查"
    assert "传媒公司" not in page.content()
    shot(page, "status-under-review")
    audit(page, "status")
    assert {name: problems for name, problems in found.items() if problems} == {}
