"""Canvassing (拉票): a poster per case with a QR code, a share link and button, Open
Graph cards on public pages, and a results page worth sharing."""

import io
import json
import logging
import re

import pytest
import zxingcpp
from django.core import checks
from django.core.cache import caches
from django.core.management import call_command
from PIL import Image

from ballots.charts import ranking_chart
from cases import poster as posters
from cases.models import Batch, Case
from tests.conftest import make_ballot

pytestmark = pytest.mark.django_db

ORIGIN = "https://vote.example.cn"


@pytest.fixture
def origin(settings):
    settings.CASEVOTE_PUBLIC_ORIGIN = ORIGIN
    return ORIGIN


def decode(png: bytes) -> list[str]:
    return [code.text for code in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


# --- The poster ------------------------------------------------------------------


def test_the_poster_is_a_phone_sized_png_whose_qr_code_opens_the_case_page(
    client, open_batch, origin
):
    response = client.get("/cases/031/poster.png")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.size == (posters.WIDTH, posters.HEIGHT)
    assert 1.40 < posters.HEIGHT / posters.WIDTH < 1.43  # A5's proportions
    assert decode(response.content) == [f"{ORIGIN}/cases/031/"]


def test_the_qr_code_ignores_a_forged_host_header(client, open_batch, origin, settings):
    settings.ALLOWED_HOSTS = ["vote.example.cn", "evil.example"]

    response = client.get("/cases/031/poster.png", HTTP_HOST="evil.example")

    assert decode(response.content) == [f"{ORIGIN}/cases/031/"]


def test_without_an_origin_the_poster_points_at_the_development_server(
    client, open_batch, settings
):
    settings.CASEVOTE_PUBLIC_ORIGIN = ""
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1"]

    response = client.get("/cases/031/poster.png", HTTP_HOST="127.0.0.1")

    assert decode(response.content) == ["http://localhost:8000/cases/031/"]


def test_a_second_request_with_the_etag_is_a_304_without_a_body(client, open_batch, origin):
    first = client.get("/cases/031/poster.png")

    again = client.get("/cases/031/poster.png", HTTP_IF_NONE_MATCH=first["ETag"])

    assert re.fullmatch(r'"[0-9a-f]{32}"', first["ETag"])
    assert "max-age=300" in first["Cache-Control"] and "public" in first["Cache-Control"]
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == first["ETag"]


def test_the_rendered_poster_is_kept_in_the_shared_cache(
    client, open_batch, origin, django_assert_num_queries
):
    case = Case.objects.get(number=31)
    content = posters.PosterContent(
        campaign="全国城乡社区高质量发展典型案例候选展示投票",
        number="031",
        title=case.title,
        province=case.province,
        url=f"{ORIGIN}/cases/031/",
    )
    key = f"casevote:poster:{content.digest()}"
    assert caches["shared"].get(key) is None

    first = client.get("/cases/031/poster.png")

    assert caches["shared"].get(key) == first.content
    caches["default"].clear()  # another worker: it reads the case, not the image
    with django_assert_num_queries(1):
        second = client.get("/cases/031/poster.png")
    assert second.content == first.content
    with django_assert_num_queries(0):  # the same worker again: its page cache
        third = client.get("/cases/031/poster.png")
    assert third.content == first.content


def test_the_etag_changes_with_what_the_poster_shows(client, open_batch, origin, settings):
    before = client.get("/cases/031/poster.png")["ETag"]

    Case.objects.filter(number=31).update(title="改过名字的社区")
    renamed = client.get("/cases/031/poster.png")
    settings.CASEVOTE_PUBLIC_ORIGIN = "https://other.example.cn"
    caches["default"].clear()  # a setting changes with a restart: the workers start afresh
    moved = client.get("/cases/031/poster.png")

    assert len({before, renamed["ETag"], moved["ETag"]}) == 3
    assert client.get("/cases/031/poster.png", HTTP_IF_NONE_MATCH=before).status_code == 200
    assert decode(moved.content) == ["https://other.example.cn/cases/031/"]


def test_the_same_inputs_draw_the_same_bytes():
    content = posters.PosterContent(
        "活动", "031", "望泉西里南一社区", "北京市", ORIGIN + "/cases/031/"
    )

    assert posters.render(content) == posters.render(content)


def test_a_disqualified_case_has_no_poster(client, open_batch, origin):
    Case.objects.filter(number=32).update(status=Case.Status.DISQUALIFIED)

    response = client.get("/cases/032/poster.png")

    assert response.status_code == 404
    html = response.content.decode()
    assert "已被取消推选资格" in html and "没有拉票海报" in html
    assert 'href="/cases/032/"' in html


def test_a_poster_already_served_is_gone_once_the_case_is_disqualified(client, open_batch, origin):
    assert client.get("/cases/032/poster.png").status_code == 200

    Case.objects.filter(number=32).update(status=Case.Status.DISQUALIFIED)

    assert client.get("/cases/032/poster.png").status_code == 404


def test_a_draft_batch_has_no_public_poster(client, batch2, make_case, origin):
    draft = Batch.objects.create(number=3, name="第三批", first_number=61, last_number=90)
    make_case(61, batch=draft)

    assert client.get("/cases/061/poster.png").status_code == 404


def test_a_short_number_redirects_to_the_three_digit_poster(client, open_batch, origin):
    response = client.get("/cases/31/poster.png")

    assert response.status_code == 301
    assert response["Location"] == "/cases/031/poster.png"


def test_a_character_the_font_lacks_is_left_out_and_logged(caplog):
    lacking = "\U0002a6a5"  # a rare CJK Extension B character, outside the subset
    assert posters.missing_characters(f"望泉{lacking}社区") == [lacking]
    content = posters.PosterContent("活动", "031", f"望泉{lacking}社区", "北京市", ORIGIN + "/")

    with caplog.at_level(logging.WARNING, logger="cases.poster"):
        png = posters.render(content)

    assert "U+2A6A5" in caplog.text and "case 031" in caplog.text
    assert png == posters.render(
        posters.PosterContent("活动", "031", "望泉社区", "北京市", ORIGIN + "/")
    )


def test_the_font_covers_every_title_and_province_of_the_fixtures(batch2_loaded):
    for case in Case.objects.all():
        assert posters.missing_characters(case.title + case.province) == [], case.number


def test_the_font_ships_with_its_licence():
    licence = (posters.FONT_DIR / "OFL.txt").read_text(encoding="utf-8")

    assert "SIL OPEN FONT LICENSE Version 1.1" in licence
    assert posters.FONT_FILE.stat().st_size < 2_000_000


# --- The case page: share link, button, poster, Open Graph -------------------------


def test_the_case_page_offers_the_link_the_share_button_and_the_poster(client, open_batch, origin):
    html = client.get("/cases/031/").content.decode()

    assert f'<a href="{ORIGIN}/cases/031/">{ORIGIN}/cases/031/</a>' in html  # without JS
    assert re.search(r'<button type="button" class="[^"]*btn-share[^"]*"[^>]*hidden>分享', html)
    assert '<script src="/static/js/share.js" defer></script>' in html
    assert re.search(r'<img src="/cases/031/poster.png"[^>]*alt="031 号案例[^"]+拉票海报', html)
    assert "长按图片保存" in html
    assert 'download="拉票海报-031.png"' in html


def test_the_case_page_carries_an_open_graph_card_with_the_poster(client, open_batch, origin):
    html = client.get("/cases/031/").content.decode()

    assert f'<meta property="og:url" content="{ORIGIN}/cases/031/">' in html
    assert f'<meta property="og:image" content="{ORIGIN}/cases/031/poster.png">' in html
    assert re.search(r'<meta property="og:title" content="031 测试社区31（北京市）', html)
    assert '<meta property="og:description" content="第一段，案例31。">' in html


def test_a_disqualified_case_page_offers_no_poster_or_share(client, open_batch, origin):
    Case.objects.filter(number=32).update(status=Case.Status.DISQUALIFIED)

    html = client.get("/cases/032/").content.decode()

    assert "poster.png" not in html
    assert "btn-share" not in html and "share.js" not in html


@pytest.mark.parametrize(
    "path", ["/", "/batches/2/", "/cases/031/", "/vote/", "/results/", "/announcements/"]
)
def test_every_public_page_has_an_open_graph_card(client, open_batch, clock, origin, path):
    html = client.get(path, follow=True).content.decode()

    for name in ("og:type", "og:site_name", "og:title", "og:description", "og:url"):
        assert re.search(rf'<meta property="{name}" content="[^"]+">', html), name
    assert re.search(rf'<meta property="og:url" content="{re.escape(ORIGIN)}/', html)


def test_the_public_origin_check_warns_only_when_it_is_missing(settings):
    settings.CASEVOTE_PUBLIC_ORIGIN = ""
    found = checks.run_checks(include_deployment_checks=True)
    assert "cases.W010" in [message.id for message in found]

    settings.CASEVOTE_PUBLIC_ORIGIN = ORIGIN
    found = checks.run_checks(include_deployment_checks=True)
    assert "cases.W010" not in [message.id for message in found]


@pytest.mark.parametrize(
    "value", ["vote.example.cn", "https://vote.example.cn/", "https://vote.example.cn/x", "ftp://a"]
)
def test_a_malformed_public_origin_stops_the_start(monkeypatch, value):
    from django.core.exceptions import ImproperlyConfigured

    from casevote.settings import env_origin

    monkeypatch.setenv("CASEVOTE_PUBLIC_ORIGIN", value)
    with pytest.raises(ImproperlyConfigured, match="CASEVOTE_PUBLIC_ORIGIN"):
        env_origin("CASEVOTE_PUBLIC_ORIGIN")


# --- Results worth sharing ------------------------------------------------------------


@pytest.fixture
def visible_results(open_batch, clock):
    open_batch.results_visibility = Batch.ResultsVisibility.LIVE
    open_batch.save()
    make_ballot(open_batch, [31, 32])
    make_ballot(open_batch, [32])
    make_ballot(open_batch, [32, 33])
    Case.objects.filter(number=33).update(status=Case.Status.DISQUALIFIED)
    return open_batch


def test_the_results_page_draws_the_ranking_as_an_accessible_svg_chart(
    client, visible_results, origin
):
    html = client.get("/batches/2/results/").content.decode()

    svg = re.search(r"<svg[^>]*>.*?</svg>", html, re.S).group(0)
    assert 'role="img"' in svg and "aria-labelledby" in svg
    assert "<title" in svg and "<desc" in svg
    assert "第一名为 032 号" in svg
    # Candidates only, in rank order; each number also as text in the table.
    assert re.findall(r'class="chart-label">(\d+)<', svg)[:2] == ["032", "031"]
    assert "033" not in re.findall(r'class="chart-label">(\d+)<', svg)
    assert re.search(r"<td>1</td><td><a[^>]*>032 [^<]+</a></td><td[^>]*>3</td>", html)
    assert "已取消推选资格的案例" in html


def test_the_results_page_says_when_it_was_counted(client, visible_results, origin):
    html = client.get("/batches/2/results/").content.decode()

    assert "统计时间：" in html
    assert '<time datetime="2026-12-04T' in html and "2026年12月4日 10:00" in html


def test_the_results_page_has_a_share_card_and_button_of_its_own(client, visible_results, origin):
    html = client.get("/batches/2/results/").content.decode()

    assert f'<meta property="og:url" content="{ORIGIN}/batches/2/results/">' in html
    assert '<meta property="og:title" content="第二批初选入围案例投票结果' in html
    assert re.search(
        r'og:description" content="截至12月4日 10:00，有效选票 3 张；暂列第一：032', html
    )
    assert "btn-share" in html and f"{ORIGIN}/batches/2/results/" in html


def test_hidden_results_have_no_chart_and_no_share_button(client, open_batch, clock, origin):
    html = client.get("/batches/2/results/").content.decode()

    assert "<svg" not in html and "btn-share" not in html


def test_the_ranking_chart_scales_bars_to_the_most_votes():
    chart = ranking_chart([("032", 30), ("031", 15), ("034", 0)], width=360)

    bars = [row.width for row in chart.rows]
    assert bars[0] == 360 - 44 - 64
    assert bars[1] == pytest.approx(bars[0] / 2)
    assert bars[2] == 0
    assert chart.height == 3 * 26
    assert [row.leading for row in chart.rows] == [True, False, False]
    tied = ranking_chart([("031", 2), ("032", 2), ("033", 1)])
    assert [row.leading for row in tied.rows] == [True, True, False]
    assert not ranking_chart([("031", 0)]).rows[0].leading  # no votes: nobody leads


def test_load_cases_warns_of_a_title_the_poster_font_cannot_draw(tmp_path, db):
    lacking = "\U0002a6a5"
    path = tmp_path / "batch.json"
    path.write_text(
        json.dumps(
            {
                "batch": {"number": 2, "name": "第二批", "first_number": 31, "last_number": 60},
                "cases": [
                    {"number": 31, "title": "望泉社区", "province": "北京市", "body": "介绍。"},
                    {"number": 32, "title": f"{lacking}村", "province": "北京市", "body": "介绍。"},
                ],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    out = io.StringIO()

    call_command("load_cases", str(path), stdout=out)

    warnings = [line for line in out.getvalue().splitlines() if "海报字体" in line]
    assert len(warnings) == 1
    assert "案例 032" in warnings[0] and "U+2A6A5" in warnings[0]
