"""The share card's script in a real browser, under the page's real CSP (issue #16).

WeChat's SDK host is not reachable from a test machine, so Playwright answers for it
with a stand-in `wx` that records what the page asks. The browser checks the CSP before
any request leaves it, so a host the policy did not allow would never reach the
stand-in. Without the SDK (both hosts failing, or outside WeChat) the page is unchanged.
"""
# The axe fixture of test_accessibility is imported, and pytest passes it by name.
# ruff: noqa: F811

import pytest

from ballots.follow import jssdk
from tests.fake_wechat import APP_ID, APP_SECRET, FakeWeChat

from .conftest import COMMON, PHONE, TIMEOUT_MS
from .test_accessibility import axe_source, violations  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WECHAT_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Mobile Safari/537.36 MicroMessenger/8.0.50.2701(0x28003253) NetType/WIFI"
)
# A stand-in for jweixin-1.6.0.js: records the calls, and is "ready" at once.
STAND_IN_SDK = """
window.wxCalls = [];
window.wx = {
  config: function (c) { wxCalls.push(["config", c]); },
  ready: function (f) { setTimeout(f, 0); },
  error: function () {},
  updateAppMessageShareData: function (d) { wxCalls.push(["appMessage", d]); },
  updateTimelineShareData: function (d) { wxCalls.push(["timeline", d]); }
};
"""
PRIMARY, BACKUP = "https://res.wx.qq.com/**", "https://res2.wx.qq.com/**"


@pytest.fixture
def wechat_site(site, settings):
    fake = FakeWeChat().start()
    settings.CASEVOTE_FOLLOW_BACKEND = "ballots.follow.wechat.WeChatFollowBackend"
    settings.CASEVOTE_WECHAT_APP_ID = APP_ID
    settings.CASEVOTE_WECHAT_APP_SECRET = APP_SECRET
    settings.CASEVOTE_WECHAT_API_BASE = fake.base_url
    settings.CASEVOTE_PUBLIC_ORIGIN = site.url  # the URL the browser shows
    yield fake
    fake.stop()


def in_wechat(browser, *, primary=STAND_IN_SDK, backup=STAND_IN_SDK):
    """A phone in WeChat; each SDK host answers with `primary`/`backup` or fails (None)."""
    context = browser.new_context(**COMMON, **(PHONE | {"user_agent": WECHAT_UA}))
    context.set_default_timeout(TIMEOUT_MS)
    for pattern, body in ((PRIMARY, primary), (BACKUP, backup)):
        context.route(pattern, answer(body))
    return context


def answer(body: str | None):
    def handle(route):
        if body is None:
            route.abort()
        else:
            route.fulfill(status=200, content_type="application/javascript", body=body)

    return handle


def watch(page) -> list[str]:
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return problems


def test_in_wechat_the_case_page_configures_the_sdk_and_sets_the_card(
    browser, wechat_site, site, axe_source
):
    context = in_wechat(browser)
    page = context.new_page()
    problems = watch(page)
    page.goto(f"{site.url}/cases/031/")
    page.wait_for_function("() => window.wxCalls && window.wxCalls.length === 3")

    calls = dict(page.evaluate("() => window.wxCalls"))
    config = calls["config"]
    url = page.evaluate("() => location.href.split('#')[0]")
    assert config["appId"] == APP_ID
    assert config["signature"] == jssdk.signature(
        wechat_site.ticket[0], config["nonceStr"], config["timestamp"], url
    )
    assert config["jsApiList"] == ["updateAppMessageShareData", "updateTimelineShareData"]
    title = page.locator("h1").inner_text()
    assert calls["appMessage"]["title"] == f"031 {title}" and calls["appMessage"]["desc"]
    assert calls["timeline"]["title"] == f"031 {title}"
    assert calls["appMessage"]["imgUrl"].endswith("/static/wechat-share-icon.png")
    assert problems == []
    assert violations(page, axe_source) == []
    context.close()


def test_when_wechats_host_fails_the_backup_host_is_used(browser, wechat_site, site):
    context = in_wechat(browser, primary=None)
    page = context.new_page()
    problems = watch(page)
    page.goto(f"{site.url}/")
    page.wait_for_function("() => window.wxCalls && window.wxCalls.length === 3")

    assert problems == []
    context.close()


def test_without_the_sdk_the_page_works_unchanged(browser, wechat_site, site):
    context = in_wechat(browser, primary=None, backup=None)
    page = context.new_page()
    problems = watch(page)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{site.url}/cases/031/")
    page.wait_for_load_state("networkidle")

    assert any("res2.wx.qq.com" in url for url in requested)  # both were tried
    assert page.evaluate("() => typeof window.wx") == "undefined"
    assert problems == []
    page.locator("a[rel=next]").click()  # the page still works: on to the next case
    page.wait_for_url("**/cases/032/")
    context.close()


def test_outside_wechat_the_sdk_is_not_even_loaded(phone, wechat_site, site):
    requested: list[str] = []
    phone.on("request", lambda request: requested.append(request.url))
    phone.goto(f"{site.url}/cases/031/")
    phone.wait_for_load_state("networkidle")

    assert phone.locator("#wechat-share-card").count() == 1
    assert not [url for url in requested if "wx.qq.com" in url]
