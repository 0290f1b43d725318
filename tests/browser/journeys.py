"""Steps the browser tests share: following through the gate, choosing cases; an
editor's CSV batch published and opened by the committee."""

import io
import re
from urllib.parse import urljoin, urlsplit

import zxingcpp
from django.core.management import call_command
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
    """On the gate: open the link the QR code encodes and confirm, landing back on the
    ballot the gate interrupted (a batch's own page carries it as `next`)."""
    came_from = urlsplit(page.url).path
    link = qr_link(page)
    assert re.fullmatch(r"https?://[^/]+/follow/[^/]+/(\?next=[^&]+)?", link), link
    # The same link is offered to tap, for a visitor already on their phone.
    assert (
        page.get_by_role("link", name=re.compile("关注.*并返回投票")).get_attribute("href") == link
    )
    page.goto(link)
    if shot:
        shot(page, "follow")
    page.get_by_role("button", name="确认（演示）并返回投票").tap()
    page.wait_for_url(f"**{came_from}")


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


# Checked on every phone screenshot: nothing wider than the screen, and every control
# a finger is meant to hit at least 44×44 CSS pixels. Links inside running text are
# exempt (WCAG 2.5.8's "inline" exception); a link alone on its line is not.
PHONE_CHECKS = """() => {
  const problems = [];
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > width) {
    problems.push(`page is ${document.documentElement.scrollWidth}px wide on a ${width}px screen`);
  }
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width && box.right > width + 0.5 && getComputedStyle(el).position !== 'absolute') {
      problems.push(`overflows the screen: <${el.tagName.toLowerCase()} class="${el.className}"> (right edge ${Math.round(box.right)}px)`);
    }
  }
  const controls = document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary');
  for (const el of controls) {
    if (el.closest('.hp-field, .skip-link')) continue;
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    let box = el.getBoundingClientRect();
    if (el.type === 'checkbox' || el.type === 'radio') {
      const row = el.closest('.case-choice, .form-check');  // the whole row is the target
      if (row) box = row.getBoundingClientRect();
    }
    const inSentence = style.display === 'inline' && el.tagName === 'A'
      && el.parentElement.innerText.trim() !== el.innerText.trim();
    if (inSentence) continue;  // a link in a sentence: the line is the target
    if (box.width < 44 || box.height < 44) {
      problems.push(`small tap target ${Math.round(box.width)}×${Math.round(box.height)}: <${el.tagName.toLowerCase()}> ${(el.innerText || el.value || el.name || '').trim().slice(0, 30)}`);
    }
  }
  return problems;
}"""


def phone_problems(page) -> list[str]:
    return page.evaluate(PHONE_CHECKS)


def load_csv_batch(tmp_path, csv_text: str, *, number: int = 3, first: int = 61) -> None:
    """An editor loads a batch from a CSV as Excel saves it ("CSV UTF-8"): a draft."""
    path = tmp_path / f"batch{number}.csv"
    path.write_text(csv_text, encoding="utf-8-sig")
    call_command(
        "load_cases",
        str(path),
        *("--batch", str(number), "--batch-name", "第三批初选入围案例"),
        *("--first", str(first), "--last", str(first + 29)),
        verbosity=0,
    )


def publish_and_open(number: int, reason: str, *, days: int = 14) -> None:
    """The committee publishes the batch and opens its vote, with the commands."""
    call_command("publish_batch", "--batch", str(number), "--reason", reason, verbosity=0)
    call_command(
        "set_voting",
        *("--batch", str(number), "--open-now", "--days", str(days), "--reason", reason),
        verbosity=0,
    )
