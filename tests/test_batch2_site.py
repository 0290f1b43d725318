"""The real batch-2 catalogue on the site: every published paragraph once, no ad string."""

import html as html_lib
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db

SOURCE = Path(__file__).resolve().parent.parent / "fixtures" / "batch2-announcement.txt"
AD = re.compile(r"bd半岛(?:体育|官网)")
CHROME = (
    "当前所在位置",
    "全国城乡社区高质量发展典型案例候选展示投票(第二批)",
    "分享你的游记",
    "网站地图",
)


def source_paragraphs() -> set[str]:
    lines = (AD.sub("", line).strip() for line in SOURCE.read_text(encoding="utf-8").splitlines())
    return {line for line in lines if line and not line.startswith(CHROME)}


def page_paragraphs(html: str) -> list[str]:
    return [html_lib.unescape(p) for p in re.findall(r"<p>([^<]+)</p>", html)]


def test_every_source_paragraph_is_shown_exactly_once_across_the_site(client, batch2_loaded):
    campaign = client.get("/").content.decode()
    shown = page_paragraphs(campaign)
    for number in range(31, 61):
        response = client.get(f"/cases/{number:03d}/")
        assert response.status_code == 200
        page = response.content.decode()
        assert "半岛" not in page
        shown += page_paragraphs(page)

    published = source_paragraphs()
    counted = [p for p in shown if p in published]
    assert set(counted) == published
    assert len(counted) == len(published), "a paragraph is shown twice"
    assert "半岛" not in campaign


def test_the_campaign_page_lists_all_30_cases_with_bounded_queries(
    client, batch2_loaded, django_assert_max_num_queries
):
    # 5: one more since the 防骗提示 (reports/templatetags/fraud_notice.py) is shown.
    with django_assert_max_num_queries(5):
        response = client.get("/")

    html = response.content.decode()
    assert [c.display_number for c in response.context["cases"]] == [
        f"{n:03d}" for n in range(31, 61)
    ]
    assert "北京市顺义区望泉西里南一社区" in html
    assert "云南省楚雄市鹿城镇西苑社区" in html
    assert "严禁候选案例及申报单位在网络投票环节实施刷票" in html


def test_filtering_the_real_catalogue_by_province(client, batch2_loaded):
    cases = client.get("/", {"province": "四川省"}).context["cases"]

    assert [c.number for c in cases] == [37, 38, 47, 51]


def test_searching_the_real_catalogue(client, batch2_loaded):
    cases = client.get("/", {"q": "五社联动"}).context["cases"]

    assert {c.number for c in cases} >= {37, 45}


def test_the_first_and_last_case_pages(client, batch2_loaded):
    first = client.get("/cases/031/").content.decode()
    last = client.get("/cases/060/").content.decode()

    assert "<title>031 北京市顺义区望泉西里南一社区" in first
    assert 'rel="prev"' not in first
    assert 'rel="next" href="/cases/032/"' in first
    assert "<title>060 云南省楚雄市鹿城镇西苑社区" in last
    assert 'rel="next"' not in last
    assert client.get("/cases/061/").status_code == 404
