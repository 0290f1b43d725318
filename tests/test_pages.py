"""The public pages: campaign list with filter and search, case pages, 404s."""

import re

import pytest
from django.urls import reverse

from cases.models import Batch, Case

pytestmark = pytest.mark.django_db


def test_it_shows_the_notice_and_every_case_of_the_batch(client, batch2, make_case):
    for number in range(31, 36):
        make_case(number)

    response = client.get("/")

    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="zh-Hans">' in html
    assert "第二段公告：严禁刷票。" in html
    for number in range(31, 36):
        assert f'href="/cases/0{number}/"' in html
        assert f"测试社区{number}" in html
    assert "共 5 个案例" in html


def test_it_shows_a_friendly_page_when_no_case_is_published(client, db):
    response = client.get("/")

    assert response.status_code == 200
    assert "候选案例尚未发布" in response.content.decode()


def test_it_filters_by_province(client, make_case):
    make_case(31, title="北京某社区", province="北京市")
    make_case(32, title="浙江某村", province="浙江省")

    response = client.get("/", {"province": "浙江省"})

    html = response.content.decode()
    assert "浙江某村" in html
    assert "北京某社区" not in html
    assert "找到 1 个案例（浙江省）" in html


def test_it_offers_only_provinces_that_have_cases_in_catalogue_order(client, make_case):
    make_case(31, province="浙江省")
    make_case(32, province="北京市")
    make_case(33, province="")

    form = client.get("/").context["form"]

    assert [value for value, _ in form.fields["province"].choices] == ["", "浙江省", "北京市"]


def test_it_reports_an_unknown_province_and_shows_all_cases(client, make_case):
    make_case(31, title="北京某社区", province="北京市")

    response = client.get("/", {"province": "火星"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "没有来自“火星”的案例。" in html
    assert "北京某社区" in html


def test_it_searches_title_and_body(client, make_case):
    make_case(31, title="望泉西里南一社区", body="公租房社区治理。")
    make_case(32, title="赵家楼社区", body="党建惠家品牌。")
    make_case(33, title="龙溪村", body="议事协商。")

    by_title = client.get("/", {"q": "望泉"}).context["cases"]
    by_body = client.get("/", {"q": "党建惠家"}).context["cases"]

    assert [c.number for c in by_title] == [31]
    assert [c.number for c in by_body] == [32]


def test_it_combines_province_and_search_and_says_when_nothing_matches(client, make_case):
    make_case(31, title="望泉西里南一社区", province="北京市")

    response = client.get("/", {"province": "北京市", "q": "不存在的词"})

    assert "没有符合条件的案例" in response.content.decode()


def test_it_rejects_an_overlong_search_with_a_message(client, make_case):
    make_case(31)

    response = client.get("/", {"q": "长" * 51})

    html = response.content.decode()
    assert "搜索词最多 50 个字。" in html
    assert "共 1 个案例" in html


def test_it_escapes_the_search_text(client, make_case):
    make_case(31)

    html = client.get("/", {"q": "<script>x</script>"}).content.decode()

    assert "<script>x</script>" not in html


def test_the_list_runs_a_bounded_number_of_queries(
    client, batch2, make_case, django_assert_max_num_queries
):
    for number in range(31, 61):
        make_case(number, province=["北京市", "浙江省", "四川省"][number % 3])

    # One more than before the 防骗提示 (reports/templatetags/fraud_notice.py) was shown.
    with django_assert_max_num_queries(5):
        response = client.get("/", {"province": "浙江省", "q": "案例"})
    assert len(response.context["cases"]) == 10

    with django_assert_max_num_queries(5):
        client.get("/")


def test_the_case_page_shows_every_paragraph_and_neighbours(client, make_case):
    make_case(31, title="甲社区")
    make_case(32, title="乙社区", body="第一段。\n\n第二段。\n\n第三段。")
    make_case(33, title="丙社区")

    response = client.get("/cases/032/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "<title>032 乙社区 · " in html
    for paragraph in ("<p>第一段。</p>", "<p>第二段。</p>", "<p>第三段。</p>"):
        assert html.count(paragraph) == 1
    assert 'rel="prev" href="/cases/031/"' in html
    assert 'rel="next" href="/cases/033/"' in html


def test_the_first_and_last_case_have_one_neighbour(client, make_case):
    make_case(31)
    make_case(32)

    first = client.get("/cases/031/").content.decode()
    last = client.get("/cases/032/").content.decode()

    assert 'rel="prev"' not in first and 'rel="next"' in first
    assert 'rel="prev"' in last and 'rel="next"' not in last


def test_neighbours_stay_within_the_batch(client, make_case, batch2):
    other = Batch.objects.create(number=3, name="第三批", first_number=61, last_number=90)
    make_case(60)
    make_case(61, batch=other)

    html = client.get("/cases/060/").content.decode()

    assert 'rel="next"' not in html


def test_a_short_number_redirects_to_the_three_digit_url(client, make_case):
    make_case(31)

    response = client.get("/cases/31/")

    assert response.status_code == 301
    assert response["Location"] == "/cases/031/"


@pytest.mark.parametrize(
    "path", ["/cases/061/", "/cases/abc/", "/cases/0310/", "/cases/-1/", "/nope/"]
)
def test_unknown_pages_get_the_chinese_404_page(client, make_case, path):
    make_case(31)

    response = client.get(path)

    assert response.status_code == 404
    html = response.content.decode()
    assert "页面不存在" in html
    assert "返回全部案例" in html


def test_the_case_page_marks_a_disqualified_case(client, make_case):
    make_case(31, status=Case.Status.DISQUALIFIED)

    html = client.get("/cases/031/").content.decode()

    assert "该案例已被取消推选资格" in html


def test_pages_only_answer_safe_methods(client, make_case):
    make_case(31)

    assert client.post("/").status_code == 405
    assert client.post(reverse("cases:detail", args=[31])).status_code == 405


def test_every_control_has_a_label(client, make_case):
    make_case(31)

    html = client.get("/").content.decode()

    for control in ("id_province", "id_q"):
        assert re.search(rf'<label\s+for="{control}"[^>]*>\s*\S', html), control


def test_favicon_ico_points_at_the_site_icon(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 301
    assert response["Location"].startswith("/static/favicon")
