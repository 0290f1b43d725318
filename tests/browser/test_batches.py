"""A resident on a phone reaches an earlier batch's results: batch 3 is voting and comes
first on the campaign page; batch 2's vote is over, and its page and results page show
its count."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.utils import timezone

from ballots.moderation import disqualify_case
from cases.models import Batch, Case
from tests.conftest import make_ballot

from .conftest import staff_groups
from .journeys import load_csv_batch, publish_and_open

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

# Batch 2's ballots, cast over the days it was open: case 045 leads with 4 votes, 031
# follows with 3, 058 has 2, 033 has 1; 036 has 2 but is disqualified (listed apart, not
# ranked). The void ballot (for 033 and 058) is not counted.
BALLOTS = [(45, 31, 58), (45, 31, 36), (45, 31), (45, 58, 36), (33,)]
VOID_BALLOT = (33, 58)
STANDINGS = [("1", "045", "4"), ("2", "031", "3"), ("3", "058", "2"), ("4", "033", "1")]
DISQUALIFIED = 36

BATCH3_CSV = """number,title,province,body
61,河北省石家庄市长安区建北街道,河北省,"建北街道以党建引领“一老一小”服务。"
62,山东省青岛市市南区八大峡街道,山东省,"八大峡街道推行“海上枫桥”调解机制。"
63,浙江省杭州市上城区湖滨街道,浙江省,"湖滨街道的居民议事会每月协商一次。"
"""


@pytest.fixture
def member(site):
    staff_groups()
    user = User.objects.create_user("weiyuan", is_staff=True)
    user.groups.add(Group.objects.get(name="组委会"))
    return user


@pytest.fixture
def two_batches(site, member, tmp_path):
    """Batch 2 (the real catalogue) voted, closed, its results shown after the close and
    one case disqualified with an announcement; batch 3 (061–090) published and open."""
    reason = "组委会会议决定（浏览器测试）"
    batch2 = Batch.objects.get(number=2)
    batch2.results_visibility = Batch.ResultsVisibility.AFTER_CLOSE
    batch2.save()
    # The site fixture opens batch 2's vote; publishing is the committee's decision
    # (the command says so and changes nothing if the batch is already published).
    call_command("publish_batch", "--batch", "2", "--reason", reason, verbosity=0)
    start = timezone.now() - timedelta(days=5)
    for day, numbers in enumerate(BALLOTS):
        make_ballot(batch2, numbers, ip=f"198.51.100.{day + 1}", when=start + timedelta(days=day))
    make_ballot(batch2, VOID_BALLOT, ip="203.0.113.9", when=start, status="void")
    case = Case.objects.get(number=DISQUALIFIED)
    disqualify_case(
        case,
        user=member,
        reason=reason,
        title=f"关于取消{case.display_number}号案例推选资格的公告",
        body=f"经组委会核查，{case.display_number}号案例存在组织刷票行为，取消其推选资格。",
    )
    call_command("set_voting", "--batch", "2", "--close-now", "--reason", reason, verbosity=0)

    load_csv_batch(tmp_path, BATCH3_CSV)
    publish_and_open(3, reason)
    return Batch.objects.get(number=2), Batch.objects.get(number=3)


def results_rows(page) -> list[tuple[str, str, str]]:
    """(rank, case number, votes) for each row of the results table on `page`."""
    rows = page.locator(".results-table tbody tr")
    return [
        (cells[0], cells[1][:3], cells[2])
        for cells in (row.locator("td").all_inner_texts() for row in rows.all())
    ]


def test_it_takes_a_resident_from_the_campaign_page_to_an_earlier_batchs_results(
    site, two_batches, phone, shot
):
    page = phone
    page.goto(site.url + "/")
    assert page.get_by_role("heading", level=1).inner_text().startswith("第三批初选入围案例")
    assert [text[:3] for text in page.locator(".case-item").all_inner_texts()] == [
        "061",
        "062",
        "063",
    ]
    others = page.get_by_role("region", name="其他批次")
    links = others.get_by_role("link")
    assert links.count() == 1
    assert re.fullmatch(
        r"第二批初选入围案例（第 031–060 号）\s*投票已于 \d{4}年\d{1,2}月\d{1,2}日 结束",
        links.first.inner_text(),
    ), links.first.inner_text()
    shot(page, "campaign-batch-3-first")

    links.first.tap()
    page.wait_for_url("**/batches/2/")
    assert page.get_by_role("heading", level=1).inner_text().startswith("第二批初选入围案例")
    assert page.locator(".batch-state").inner_text().startswith("投票已于")
    assert page.get_by_role("link", name=re.compile("关注后投票")).count() == 0  # vote is over
    results = page.get_by_role("region", name="投票结果")
    assert "有效选票 5 张" in results.inner_text()
    assert results_rows(page)[: len(STANDINGS)] == STANDINGS
    assert len(results_rows(page)) == 29  # every candidate; the disqualified one apart
    assert f"{DISQUALIFIED:03d}" in results.locator(".disqualified").inner_text()
    title = f"关于取消{DISQUALIFIED:03d}号案例推选资格的公告"
    assert page.locator(".batch-announcements").get_by_role("link", name=title).is_visible()
    shot(page, "batch-2-with-results")

    page.goto(site.url + "/batches/2/results/")
    assert page.get_by_role("heading", level=1).inner_text().startswith("投票结果")
    assert "第二批初选入围案例" in page.get_by_role("heading", level=1).inner_text()
    assert results_rows(page)[: len(STANDINGS)] == STANDINGS
    shot(page, "batch-2-results-page")

    # From the campaign page, the header's 结果 is batch 3's: hidden while it votes.
    page.goto(site.url + "/")
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="结果").tap()
    page.wait_for_url("**/batches/3/results/")
    assert "第三批初选入围案例" in page.get_by_role("heading", level=1).inner_text()
    assert page.locator(".results-table").count() == 0
    shot(page, "batch-3-results-hidden")
