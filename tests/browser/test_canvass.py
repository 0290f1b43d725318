"""Canvassing on a phone: save a case's poster and scan it back to the case page; the
分享 button shares (Web Share) or copies the link; without JavaScript the link is there."""

import io

import pytest
import zxingcpp
from PIL import Image

from .conftest import COMMON, PHONE

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

# Stands in for the phone's share sheet: records what the page asked to share.
FAKE_WEB_SHARE = """
window.__shared = [];
navigator.share = (data) => { window.__shared.push(data); return Promise.resolve(); };
navigator.canShare = () => true;
"""


@pytest.fixture
def canvass_site(site, settings):
    """The live server is the site's public origin here, so the QR code can be followed."""
    settings.CASEVOTE_PUBLIC_ORIGIN = site.url
    return site


def csp_errors(page) -> list[str]:
    errors: list[str] = []
    page.on(
        "console",
        lambda message: (
            errors.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return errors


def test_a_resident_saves_the_poster_and_its_qr_code_opens_the_case(canvass_site, phone, shot):
    page, url = phone, canvass_site.url
    errors = csp_errors(page)
    page.goto(url + "/cases/031/")
    poster = page.locator("figure.poster img")
    poster.scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelector('figure.poster img').naturalWidth > 0")
    assert "拉票海报" in poster.get_attribute("alt")
    assert page.get_by_text("长按图片保存").is_visible()  # a phone: long-press to save
    shot(page, "case with poster")

    with page.expect_download() as saving:
        page.get_by_role("link", name="下载海报（PNG）").tap()
    download = saving.value
    assert download.suggested_filename == "拉票海报-031.png"
    png = open(download.path(), "rb").read()

    codes = [code.text for code in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]
    assert codes == [url + "/cases/031/"]
    page.goto(codes[0])
    assert page.get_by_role("heading", level=1).inner_text() == "北京市顺义区望泉西里南一社区"
    assert errors == []


def test_the_share_button_copies_the_link_where_there_is_no_web_share(canvass_site, phone, shot):
    page, url = phone, canvass_site.url
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    errors = csp_errors(page)
    page.goto(url + "/cases/031/")
    page.evaluate("() => { delete Navigator.prototype.share; }")  # as most desktop browsers

    page.get_by_role("button", name="分享").tap()

    status = page.locator(".share-status")
    status.filter(has_text="链接已复制").wait_for()
    assert page.evaluate("() => navigator.clipboard.readText()") == url + "/cases/031/"
    shot(page, "link copied")
    assert errors == []


def test_the_share_button_opens_the_share_sheet_where_there_is_one(canvass_site, phone):
    page, url = phone, canvass_site.url
    page.add_init_script(FAKE_WEB_SHARE)
    page.goto(url + "/cases/031/")

    page.get_by_role("button", name="分享").tap()

    page.locator(".share-status").filter(has_text="已打开分享").wait_for()
    shared = page.evaluate("() => window.__shared")
    assert shared == [
        {
            "title": "031 北京市顺义区望泉西里南一社区",
            "text": "请为这个社区案例投上一票",
            "url": url + "/cases/031/",
        }
    ]


def test_without_javascript_the_link_is_on_the_page_and_no_dead_button(canvass_site, browser):
    context = browser.new_context(**COMMON, **PHONE, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(canvass_site.url + "/cases/031/")

        link = page.locator(".share-link a")
        assert link.inner_text() == canvass_site.url + "/cases/031/"
        assert link.is_visible()
        assert not page.get_by_role("button", name="分享").is_visible()
    finally:
        context.close()
