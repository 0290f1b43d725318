"""The committee at a desktop (1280×800) on simulated traffic with attacks, then what a
resident sees on a phone; and an editor's CSV batch reaching the site."""

import re

import pytest
from django.contrib.auth.models import Group, User

from ballots.models import Announcement, Ballot
from cases.models import Batch, Case
from tests.conftest import SIMULATION_DAYS, SIMULATION_END
from tools.simulation import simulate

from .conftest import open_voting, staff_groups
from .journeys import follow, load_csv_batch, publish_and_open

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

PASSWORD = "browser-test-password"


@pytest.fixture
def attacked(site):
    batch = Batch.objects.get(number=2)
    scenario = simulate(batch, seed=11, ballots=1_500, days=SIMULATION_DAYS, end=SIMULATION_END)
    open_voting(batch)  # still open today, so residents can see the ballot change
    return batch, scenario


@pytest.fixture
def member(site):
    staff_groups()
    user = User.objects.create_user("weiyuan", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name="组委会"))
    return user


def log_in(page, url: str, user) -> None:
    page.goto(url + "/admin/")
    page.get_by_label("用户名").fill(user.username)
    page.get_by_label("密码").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="登录").click()


def test_the_committee_voids_and_disqualifies_the_attacked_case(
    site, attacked, member, desktop, phone, shot
):
    batch, scenario = attacked
    page = desktop
    log_in(page, site.url, member)
    assert page.get_by_role("link", name="批次").first.is_visible()
    shot(page, "admin-home")

    page.get_by_role("link", name="批次").first.click()
    page.get_by_role("link", name="刷票监测").click()
    page.wait_for_url(re.compile(r"/monitoring/$"))
    first_row = page.locator("#suspicion tbody tr").first
    number = int(first_row.locator("td").first.inner_text()[:3])
    assert number in scenario.attacked_cases
    assert "flagged" in first_row.inner_text()
    assert page.locator("svg.chart").first.is_visible()
    assert page.locator("#evidence").inner_text().startswith(f"证据：{number:03d}")
    shot(page, "monitoring-attacked-case-first")
    # The night farm's evidence: its burst hours are red on the hourly chart.
    suspicion = page.locator("#suspicion")
    farm = scenario.targets["farm"]
    suspicion.get_by_role("link", name=re.compile(f"^{farm:03d} ")).click()
    page.wait_for_url(re.compile(rf"case={farm:03d}"))
    assert page.locator("svg.chart").first.locator("rect.bar-suspect").count() > 0
    suspicion.get_by_role("link", name=re.compile(f"^{number:03d} ")).click()
    page.wait_for_url(re.compile(rf"case={number:03d}"))

    before = Ballot.objects.count()
    slice_form = page.locator(".slice form").first
    button = slice_form.get_by_role("button", name=re.compile("作废这"))
    slice_size = int(re.search(r"作废这 (\d+) 张选票", button.get_attribute("value")).group(1))
    slice_form.get_by_label("理由（内部记录，必填）").fill("同一网段机械间隔集中投票，监测证据确凿")
    with page.expect_navigation():
        button.click()
    assert page.locator(".messagelist").is_visible()
    assert Ballot.objects.filter(status="void").count() == slice_size
    assert Ballot.objects.count() == before  # voided, never deleted
    shot(page, "suspect-ballots-voided")

    case = Case.objects.get(number=number)
    page.goto(site.url + "/admin/cases/case/")
    page.locator(f'input[name="_selected_action"][value="{case.pk}"]').check()
    page.locator('select[name="action"]').select_option("disqualify")
    with page.expect_navigation():
        page.get_by_role("button", name="运行").click()
    title = f"关于取消{case.display_number}号案例推选资格的公告"
    assert page.get_by_label("公告标题").input_value() == title
    page.get_by_label("理由（内部记录，必填）").fill("监测证据确凿，组织刷票")
    page.get_by_label("公告正文").fill(
        f"经组委会核查，{case.display_number}号案例“{case.title}”存在组织刷票行为，"
        "根据活动规则取消其推选资格。"
    )
    shot(page, "disqualification-form")
    with page.expect_navigation():
        page.get_by_role("button", name="确认取消推选资格并发布公告").click()
    assert "公告已发布" in page.locator(".messagelist").inner_text()
    shot(page, "case-disqualified")
    assert Announcement.objects.get().case == case

    resident = phone
    resident.goto(site.url + "/announcements/")
    assert resident.get_by_role("link", name=re.compile(title)).is_visible()
    shot(resident, "resident-announcements")

    resident.goto(site.url + case.get_absolute_url())
    assert "该案例已被取消推选资格" in resident.get_by_role("note").inner_text()
    assert resident.get_by_role("link", name="为支持的案例投票").count() == 0
    shot(resident, "resident-case-marked")

    resident.goto(site.url + "/vote/")
    follow(resident)
    numbers = resident.locator('input[name="cases"]').evaluate_all("xs => xs.map(x => x.value)")
    assert len(numbers) == 29 and case.display_number not in numbers
    shot(resident, "resident-ballot-without-the-case")


CSV = """number,title,province,body
61,河北省石家庄市长安区建北街道,河北省,"河北省石家庄市长安区建北街道以党建引领“一老一小”服务。

第二段：建立社区食堂和托育点，居民议事会每月协商一次。"
62,山东省青岛市市南区八大峡街道,山东省,"山东省青岛市市南区八大峡街道推行“海上枫桥”调解机制。"
"""


def test_an_editors_csv_batch_appears_on_the_site_once_published(site, phone, shot, tmp_path):
    load_csv_batch(tmp_path, CSV)
    page = phone
    page.goto(site.url + "/")  # a draft: the public still sees batch 2
    assert page.get_by_role("heading", level=1).inner_text().startswith("第二批初选入围案例")
    assert page.goto(site.url + "/cases/061/").status == 404

    publish_and_open(3, "组委会决定发布并开放第三批")

    page.goto(site.url + "/")  # both voting: the newest comes first
    assert page.get_by_role("heading", level=1).inner_text().startswith("第三批初选入围案例")
    assert page.locator(".case-item").all_inner_texts()[0].startswith("061")
    assert page.locator(".case-item").count() == 2
    assert page.locator(".notice").count() == 0  # a CSV has no notice: no empty box
    shot(page, "campaign-shows-batch-3")

    page.get_by_role("link", name=re.compile("八大峡街道")).tap()
    page.wait_for_url("**/cases/062/")
    assert "海上枫桥" in page.locator("article").inner_text()
    shot(page, "new-case")
