"""Steps the browser tests share: following through the gate, choosing cases."""

import io
import re
from urllib.parse import urljoin

import zxingcpp
from PIL import Image


def qr_link(page) -> str:
    """Decode the gate's QR image (fetched with the page's cookies) to the URL it encodes."""
    src = page.locator("img.qr").get_attribute("src")
    image = page.request.get(urljoin(page.url, src))
    assert image.ok, image.status
    codes = zxingcpp.read_barcodes(Image.open(io.BytesIO(image.body())))
    assert len(codes) == 1
    return codes[0].text


def follow(page, shot=None) -> None:
    """On the gate: open the link the QR code encodes and confirm, landing on the ballot."""
    link = qr_link(page)
    assert re.fullmatch(r"https?://[^/]+/follow/[^/]+/", link), link
    # The same link is offered to tap, for a visitor already on their phone.
    assert (
        page.get_by_role("link", name=re.compile("关注.*并返回投票")).get_attribute("href") == link
    )
    page.goto(link)
    if shot:
        shot(page, "follow")
    page.get_by_role("button", name="确认关注并返回投票").tap()
    page.wait_for_url("**/vote/")


def choose(page, *numbers: str) -> None:
    for number in numbers:
        page.locator(f'input[name="cases"][value="{number}"]').tap()


def checked(page) -> list[str]:
    return page.locator('input[name="cases"]:checked').evaluate_all(
        "inputs => inputs.map(input => input.value)"
    )


def submit(page) -> None:
    """Tap 提交投票 and wait for the answer page."""
    with page.expect_navigation():
        page.get_by_role("button", name="提交投票").tap()
