"""A resident on a phone (390×844, touch): the whole vote, then the mistakes people make."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import Batch

from .journeys import checked, choose, follow, submit

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

PROVINCE = "四川省"


def test_it_takes_a_resident_from_the_campaign_page_to_a_receipt(site, phone, shot):
    page = phone
    page.goto(site.url + "/")
    assert page.get_by_role("heading", level=1).inner_text().startswith("第二批初选入围案例")
    assert page.locator(".case-item").count() == 30
    shot(page, "campaign")

    page.get_by_label("省份").select_option(PROVINCE)
    page.get_by_role("button", name="筛选").tap()
    page.wait_for_url(re.compile(r"province="))
    items = page.locator(".case-item")
    assert items.count() == 4
    assert all(PROVINCE in text for text in items.all_inner_texts())
    shot(page, "filtered-by-province")

    items.first.locator("a").tap()
    page.wait_for_url(re.compile(r"/cases/\d{3}/$"))
    case_number = page.url.rstrip("/").rsplit("/", 1)[1]
    assert PROVINCE in page.locator(".case-meta").inner_text()
    shot(page, "case")

    page.get_by_role("link", name="为支持的案例投票").tap()
    page.wait_for_url("**/vote/")
    assert page.get_by_role("heading", level=1).inner_text() == "关注后投票"
    assert page.locator("img.qr").evaluate("img => img.complete && img.naturalWidth > 0")
    shot(page, "gate")

    follow(page, shot)
    assert page.get_by_role("heading", level=1).inner_text() == "为您支持的案例投票"
    shot(page, "ballot")

    choose(page, case_number, "031", "045")
    assert sorted(checked(page)) == sorted({case_number, "031", "045"})
    shot(page, "three-chosen")

    page.get_by_role("button", name="提交投票").tap()
    page.wait_for_url("**/vote/thanks/*/")
    assert page.get_by_role("heading", level=1).inner_text() == "投票成功"
    receipt = page.locator(".receipt-code").inner_text()
    assert re.fullmatch(r"[A-Z0-9]{6,}", receipt), receipt
    assert page.locator(".receipt li").count() == 3
    shot(page, "confirmation")

    page.get_by_role("link", name="查询选票状态").tap()
    page.wait_for_url(f"**/receipt/{receipt}/")
    assert "有效，已计入统计" in page.locator(".receipt").inner_text()
    shot(page, "receipt")

    page.goto(site.url + "/vote/")
    notice = page.get_by_role("status").filter(has_text="已经投过票")
    assert notice.is_visible()
    assert receipt in notice.inner_text()
    assert re.search(r"\d+月\d+日 \d\d:\d\d 以后可以再投", notice.inner_text())
    assert page.locator('input[name="cases"]').count() == 0
    shot(page, "told-when-to-vote-again")


def refusal(page):
    """The refusal box, which must be on screen next to the form."""
    box = page.locator("#ballot-errors")
    assert box.is_visible()
    assert box.evaluate("box => box.nextElementSibling.id") == "ballot"
    return box


def test_it_keeps_the_choices_and_says_what_is_wrong(site, phone, shot):
    Batch.objects.filter(number=2).update(max_choices=3)
    page = phone
    page.goto(site.url + "/vote/")
    follow(page)

    choose(page, "031", "032", "033", "034")
    submit(page)
    assert "每票最多选择 3 个案例，您选了 4 个。" in refusal(page).inner_text()
    assert checked(page) == ["031", "032", "033", "034"]
    shot(page, "too-many")

    for number in checked(page):
        choose(page, number)
    submit(page)
    assert "请至少选择一个案例。" in refusal(page).inner_text()
    assert checked(page) == []
    shot(page, "none")

    choose(page, "040", "041")
    Batch.objects.filter(number=2).update(voting_closes_at=timezone.now() - timedelta(seconds=1))
    submit(page)
    assert re.search(r"投票已于 .+ 结束。", refusal(page).inner_text())
    assert checked(page) == ["040", "041"]
    shot(page, "after-voting-closed")
