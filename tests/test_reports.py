"""Reports to the committee: the public form, its untrusted screenshots, the status
page, the committee's queue, the 防骗提示 and retention (issue #18)."""

import io
import re
from datetime import timedelta

import pytest
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from PIL import Image

from reports.models import FraudNotice, Report, ReportDecision, Screenshot
from reports.services import review_report
from tests.reports_helpers import (
    form_token,
    jpeg_with_gps,
    png_bomb,
    png_bytes,
    report_data,
    webp_bytes,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    """Screenshots go to a temporary private folder."""
    root = tmp_path / "private-media"
    settings.STORAGES = {
        **settings.STORAGES,
        "reports": {
            **settings.STORAGES["reports"],
            "OPTIONS": {**settings.STORAGES["reports"]["OPTIONS"], "location": str(root)},
        },
    }
    return root


@pytest.fixture
def submit(client, open_batch, clock):
    """Open the form, wait like a reader, send `data` with `files`; returns the response."""

    def send(data=None, files=(), wait: float = 5, token=None, **headers):
        if token is None:
            token = form_token(client.get("/report/"))
        clock.shift(timedelta(seconds=wait))
        payload = {**report_data(), **(data or {}), "token": token}
        if files:
            payload["screenshots"] = list(files)
        return client.post("/report/", payload, **headers)

    return send


def upload(content: bytes, name: str = "shot.png", content_type: str = "image/png"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def errors_of(response) -> str:
    return response.content.decode()


def code_on(response) -> str:
    return re.search(
        r'class="receipt-code report-code">([A-Z0-9-]+)<', response.content.decode()
    ).group(1)


# --- The form ---------------------------------------------------------------------------


def test_it_files_a_report_and_shows_a_grouped_code(submit):
    response = submit()
    assert response.status_code == 200
    code = code_on(response)
    assert re.fullmatch(r"[A-Z2-9]{4}(-[A-Z2-9]{4}){3}", code)
    report = Report.objects.get()
    assert report.code == code.replace("-", "")
    assert report.status == Report.Status.RECEIVED
    assert report.contact_details == "13800000000"
    assert report.ip_network == "127.0.0.1"
    assert "no-store" in response["Cache-Control"]


def test_the_form_page_is_never_cached_and_carries_csrf(client, open_batch):
    page = client.get("/report/")
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    assert 'name="csrfmiddlewaretoken"' in page.content.decode()
    assert "防骗提示" in page.content.decode()


def test_a_case_page_links_to_the_form_about_that_case(client, open_batch):
    page = client.get("/cases/031/").content.decode()
    assert 'href="/report/?case=031"' in page
    form = client.get("/report/?case=031").content.decode()
    assert re.search(r'<option value="31" selected>031 ', form)
    assert re.search(r'value="brushing"[^>]*checked', form)


def test_every_page_links_to_the_form_in_its_footer(client, open_batch):
    for url in ["/", "/cases/031/", "/announcements/", "/report/status/"]:
        assert 'href="/report/"' in client.get(url).content.decode(), url


def test_a_brushing_lead_needs_a_case(submit):
    response = submit({"kind": "brushing", "case": ""})
    assert response.status_code == 400
    assert "举报刷票线索时，请选择涉及的案例。" in errors_of(response)
    assert not Report.objects.exists()


def test_a_brushing_lead_about_a_case_is_filed_with_it(submit):
    assert submit({"kind": "brushing", "case": "35"}).status_code == 200
    assert Report.objects.get().case.number == 35


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("kind", "", "这个字段是必填项。"),
        ("kind", "lottery", "选择一个有效的选项"),
        ("case", "999", "选择一个有效的选项"),
        ("description", "", "这个字段是必填项。"),
        ("description", "太短了", "请至少写 10 个字（现在 3 个）。"),
        ("description", "长" * 3001, "最多 3000 个字（现在 3001 个）"),
        ("description", "有人\x00冒用组委会名义收费三千元", "空字符"),
        ("happened_on", "", "这个字段是必填项。"),
        ("happened_on", "2026-12-05", "发生日期不能晚于今天。"),
        ("happened_on", "2025-11-01", "只受理一年以内发生的事情。"),
        ("happened_on", "昨天", "输入一个有效的日期。"),
        ("contact_name", "名" * 51, "最多 50 个字（现在 51 个）"),
        ("contact_details", "1" * 101, "最多 100 个字（现在 101 个）"),
    ],
)
def test_each_field_refuses_bad_input_and_keeps_what_was_typed(submit, field, value, message):
    response = submit({"contact_name": "保留的称呼", field: value})
    text = errors_of(response)
    assert response.status_code == 400
    assert message in text, text[:3000]
    assert "保留的称呼" in text or field == "contact_name"
    assert not Report.objects.exists()


def test_an_unpublished_batchs_case_cannot_be_named(submit, open_batch, make_case):
    from cases.models import Batch

    draft = Batch.objects.create(number=3, name="第三批", first_number=61, last_number=90)
    make_case(61, batch=draft)
    response = submit({"kind": "brushing", "case": "61"})
    assert response.status_code == 400


def test_the_honeypot_files_nothing(submit):
    response = submit({"website": "http://spam.example"})
    assert response.status_code == 400
    assert not Report.objects.exists()


def test_a_form_sent_too_fast_files_nothing(submit):
    response = submit(wait=0.5)
    assert response.status_code == 400
    assert "提交太快了" in errors_of(response)
    assert not Report.objects.exists()


def test_an_expired_form_files_nothing_and_keeps_the_text(submit, settings):
    response = submit(wait=settings.CASEVOTE_FORM_MAX_AGE + 1)
    assert "表单已过期" in errors_of(response)
    assert "自称组委会工作人员" in errors_of(response)
    assert not Report.objects.exists()


def test_a_tampered_token_files_nothing(submit, client, clock):
    token = form_token(client.get("/report/"))
    response = submit(token=token[:-2] + "xx")
    assert response.status_code == 400
    assert not Report.objects.exists()


def test_the_same_form_sent_twice_files_one_report(submit, client):
    token = form_token(client.get("/report/"))
    assert submit(token=token).status_code == 200
    again = submit(token=token)
    assert again.status_code == 409
    assert "已经提交过了" in errors_of(again)
    assert Report.objects.count() == 1


def test_csrf_is_checked(open_batch, clock):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    token = form_token(strict.get("/report/"))
    clock.shift(timedelta(seconds=5))
    response = strict.post("/report/", {**report_data(), "token": token})
    assert response.status_code == 403
    assert not Report.objects.exists()


# --- Limits -----------------------------------------------------------------------------


def test_one_address_may_file_only_a_few_reports_an_hour(submit, settings, clock):
    settings.CASEVOTE_REPORTS_PER_ADDRESS_HOURLY = 2
    assert submit().status_code == 200
    assert submit().status_code == 200
    refused = submit()
    assert refused.status_code == 429
    assert "提交的举报太多了" in errors_of(refused)
    assert "自称组委会工作人员" in errors_of(refused)
    assert Report.objects.count() == 2
    assert submit(REMOTE_ADDR="203.0.113.9").status_code == 200  # another address
    clock.shift(timedelta(hours=1))
    assert submit().status_code == 200


def test_one_subnet_has_a_limit_too(submit, settings):
    settings.CASEVOTE_REPORTS_PER_SUBNET_HOURLY = 2
    assert submit(REMOTE_ADDR="198.51.100.1").status_code == 200
    assert submit(REMOTE_ADDR="198.51.100.2").status_code == 200
    assert submit(REMOTE_ADDR="198.51.100.3").status_code == 429


def test_a_request_larger_than_three_files_is_refused_before_it_is_read(client, open_batch):
    response = client.generic(
        "POST",
        "/report/",
        b"x" * 10,
        content_type="multipart/form-data; boundary=xyz",
        CONTENT_LENGTH=str(30 * 1024 * 1024),
    )
    assert response.status_code == 413
    assert "每张不超过 8 MB" in response.content.decode()


# --- Screenshots: untrusted files -----------------------------------------------------


def stored_image(shot: Screenshot) -> Image.Image:
    with storages["reports"].open(shot.name, "rb") as handle:
        image = Image.open(io.BytesIO(handle.read()))
        image.load()
    return image


def test_a_png_jpeg_and_webp_are_stored_re_encoded(submit, private_media):
    files = [
        upload(png_bytes(), "王女士的截图.png"),
        upload(jpeg_with_gps(), "IMG_家门口.jpg", "image/jpeg"),
        upload(webp_bytes(), "群聊.webp", "image/webp"),
    ]
    response = submit(files=files)
    assert response.status_code == 200, errors_of(response)[:2000]
    shots = list(Report.objects.get().screenshots.all())
    assert [s.content_type for s in shots] == ["image/png", "image/jpeg", "image/webp"]
    assert [(s.width, s.height) for s in shots] == [(390, 844), (640, 480), (300, 200)]
    for shot in shots:
        path = private_media / shot.name
        assert path.is_file()
        assert path.stat().st_mode & 0o077 == 0  # only the server's account reads it
        assert re.fullmatch(
            rf"reports/{shot.report_id}/{shot.number}-[0-9a-f]{{24}}\.(png|jpg|webp)", shot.name
        )


def test_exif_and_gps_are_gone_after_upload(submit):
    original = jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # the test's premise
    assert submit(files=[upload(original, "photo.jpg", "image/jpeg")]).status_code == 200
    shot = Screenshot.objects.get()
    image = stored_image(shot)
    assert image.format == "JPEG"
    assert dict(image.getexif()) == {}
    assert not image.getexif().get_ifd(0x8825)
    with storages["reports"].open(shot.name, "rb") as handle:
        raw = handle.read()
    assert b"Exif" not in raw and b"PhoneModel" not in raw


def test_four_screenshots_are_one_too_many(submit):
    files = [upload(png_bytes(10, 10), f"{n}.png") for n in range(4)]
    response = submit(files=files)
    assert response.status_code == 400
    assert "最多上传 3 张截图" in errors_of(response)
    assert not Report.objects.exists()


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"just some text, renamed\n", "notes.png", "不是 JPEG、PNG 或 WebP 图片"),
        (b"<!doctype html><script>alert(1)</script>", "page.jpg", "不是 JPEG、PNG 或 WebP 图片"),
        (b"%PDF-1.7\n1 0 obj<<>>endobj\n", "scan.png", "不是 JPEG、PNG 或 WebP 图片"),
        (b"GIF89a\x01\x00\x01\x00", "anim.gif", "不是 JPEG、PNG 或 WebP 图片"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "broken.png", "无法作为图片打开"),
        (
            png_bytes(20, 20) + b"<html><script>alert(1)</script></html>",
            "polyglot.png",
            "还含有其他内容",
        ),
        (
            png_bytes(20, 20)[:-12] + b"%PDF-1.4" + png_bytes(20, 20)[-12:],
            "inside.png",
            "还含有其他内容",
        ),
        (b"", "empty.png", "是空文件"),
    ],
)
def test_what_is_not_really_an_image_is_refused(submit, content, name, message):
    response = submit(files=[upload(content, name)])
    assert response.status_code == 400
    assert message in errors_of(response)
    assert name in errors_of(response)
    assert not Report.objects.exists()
    assert "自称组委会工作人员" in errors_of(response)  # the text is kept


def test_an_image_bomb_is_refused(submit):
    bomb = png_bomb(30000, 30000)  # 900 million pixels in a few kilobytes
    assert len(bomb) < 100_000
    response = submit(files=[upload(bomb, "bomb.png")])
    assert response.status_code == 400
    assert "“bomb.png”的尺寸过大，不像截图或照片，不能接收。" in errors_of(response)
    assert not Report.objects.exists()


def test_an_image_above_our_pixel_limit_but_below_pillows_is_refused(submit):
    response = submit(files=[upload(png_bomb(6000, 6000), "big.png")])  # 36 MP > 25 MP
    assert response.status_code == 400
    assert "6000×6000 像素" in errors_of(response)


def test_a_20_mb_file_is_refused_with_its_size(submit):
    big = b"\x89PNG\r\n\x1a\n" + b"\x00" * (20 * 1024 * 1024)
    response = submit(files=[upload(big, "huge.png")])
    assert response.status_code == 400
    assert "“huge.png”有 20.0 MB，超过每张 8 MB 的上限" in errors_of(response)
    assert not Report.objects.exists()


def test_nothing_is_left_in_storage_when_filing_fails(submit, settings, private_media):
    settings.CASEVOTE_REPORTS_PER_ADDRESS_HOURLY = 0
    response = submit(files=[upload(png_bytes(), "a.png")])
    assert response.status_code == 429
    assert (
        not any(p.is_file() for p in private_media.rglob("*")) if private_media.exists() else True
    )


# --- Who may see a screenshot ---------------------------------------------------------------


@pytest.fixture
def report_with_shot(submit):
    assert submit(files=[upload(png_bytes(), "a.png")]).status_code == 200
    return Report.objects.get()


def shot_url(report) -> str:
    return f"/admin/reports/report/{report.pk}/screenshots/1/"


def test_a_committee_member_sees_a_screenshot_as_an_inert_image(
    client, report_with_shot, committee_member
):
    client.force_login(committee_member)
    response = client.get(shot_url(report_with_shot))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["Content-Disposition"].startswith("inline; filename=")
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")


def test_an_anonymous_visitor_cannot_reach_a_screenshot(client, report_with_shot):
    client.logout()
    response = client.get(shot_url(report_with_shot))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("who", ["editor", "outsider"])
def test_an_editor_or_other_staff_cannot_reach_a_screenshot_or_a_report(
    client, report_with_shot, request, who
):
    client.force_login(request.getfixturevalue(who))
    assert client.get(shot_url(report_with_shot)).status_code == 403
    assert client.get("/admin/reports/report/").status_code == 403
    assert client.get(f"/admin/reports/report/{report_with_shot.pk}/change/").status_code in (
        403,
        302,
    )
    assert "举报" not in client.get("/admin/").content.decode()


def test_no_public_url_serves_the_private_folder(client, report_with_shot, settings):
    shot = report_with_shot.screenshots.get()
    for url in [
        f"/{shot.name}",
        f"/media/{shot.name}",
        f"/static/{shot.name}",
        f"/private-media/{shot.name}",
    ]:
        assert client.get(url).status_code == 404


# --- The status page -----------------------------------------------------------------------


def test_the_status_page_shows_status_and_dates_never_the_notes(
    client, report_with_shot, committee_member
):
    review_report(
        report_with_shot,
        user=committee_member,
        to_status=Report.Status.REVIEWING,
        note="已转交当地核实，内部备注：疑似某公司",
        now=report_with_shot.filed_at + timedelta(hours=2),
    )
    typed = report_with_shot.code_display.lower().replace("-", " ")
    page = client.post("/report/status/", {"code": typed})
    text = page.content.decode()
    assert page.status_code == 200
    assert "正在核查" in text
    assert "疑似某公司" not in text
    assert "王女士" not in text and "13800000000" not in text
    assert "no-store" in page["Cache-Control"]


def test_an_unknown_or_malformed_code_says_so(client, open_batch):
    for code in ["AAAA-BBBB-CCCC-DDDD", "short", "中文查询码", "0000-OOOO-1111-IIII"]:
        page = client.post("/report/status/", {"code": code})
        assert page.status_code == 404
        assert "没有找到这个查询码" in page.content.decode()


def test_status_look_ups_are_limited_per_address(client, open_batch, settings):
    settings.CASEVOTE_REPORT_LOOKUPS_PER_ADDRESS_HOURLY = 3
    for _ in range(3):
        assert client.post("/report/status/", {"code": "AAAA-BBBB-CCCC-DDDD"}).status_code == 404
    refused = client.post("/report/status/", {"code": "AAAA-BBBB-CCCC-DDDD"})
    assert refused.status_code == 429
    assert "查询太频繁" in refused.content.decode()
    other = client.post(
        "/report/status/", {"code": "AAAA-BBBB-CCCC-DDDD"}, REMOTE_ADDR="203.0.113.5"
    )
    assert other.status_code == 404


# --- The committee's queue ------------------------------------------------------------------


def test_the_queue_shows_new_reports_first_and_filters(client, submit, committee_member, clock):
    submit({"kind": "brushing", "case": "31"})
    submit({"kind": "impersonation"})
    first, second = Report.objects.order_by("filed_at")
    review_report(
        second,
        user=committee_member,
        to_status="closed",
        note="核实完毕，已办结",
        now=second.filed_at,
    )
    client.force_login(committee_member)
    page = client.get("/admin/reports/report/").content.decode()
    assert page.index(first.code_display) < page.index(second.code_display)
    filtered = client.get("/admin/reports/report/?kind__exact=impersonation").content.decode()
    assert second.code_display in filtered and first.code_display not in filtered
    by_case = client.get(f"/admin/reports/report/?case__id__exact={first.case_id}").content.decode()
    assert first.code_display in by_case and second.code_display not in by_case
    by_status = client.get("/admin/reports/report/?status__exact=closed").content.decode()
    assert second.code_display in by_status and first.code_display not in by_status


def test_the_queue_runs_a_bounded_number_of_queries(
    client, submit, committee_member, django_assert_max_num_queries
):
    for number in range(31, 36):
        submit({"kind": "brushing", "case": str(number)}, files=[upload(png_bytes(20, 20))])
    client.force_login(committee_member)
    with django_assert_max_num_queries(12) as queries:
        page = client.get("/admin/reports/report/")
    assert page.status_code == 200
    few = len(queries)
    for number in range(36, 41):
        submit({"kind": "brushing", "case": str(number)})
    with django_assert_max_num_queries(few):  # ten reports cost what five did
        client.get("/admin/reports/report/")


def test_a_report_links_to_its_cases_evidence(client, submit, committee_member, open_batch):
    submit({"kind": "brushing", "case": "31"})
    client.force_login(committee_member)
    report = Report.objects.get()
    page = client.get(f"/admin/reports/report/{report.pk}/change/").content.decode()
    assert f'href="/admin/cases/batch/{open_batch.pk}/monitoring/?case=031"' in page
    assert "13800000000" in page  # the committee sees the contact details


def hidden_inputs(page) -> dict:
    """The hidden fields of an admin change form (the inlines' management forms)."""
    return dict(
        re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.content.decode())
    )


def test_a_status_change_is_a_recorded_decision(client, submit, committee_member):
    submit()
    report = Report.objects.get()
    client.force_login(committee_member)
    url = f"/admin/reports/report/{report.pk}/change/"
    management = hidden_inputs(client.get(url))
    assert "screenshots-TOTAL_FORMS" in management

    def post(data):
        return client.post(url, {**management, **data})

    refused = post({"new_status": "reviewing", "note": ""})
    assert refused.status_code == 200
    assert Report.objects.get().status == "received"
    response = post({"new_status": "reviewing", "note": "已联系举报人核实"})
    assert response.status_code == 302
    report.refresh_from_db()
    assert report.status == "reviewing"
    decision = ReportDecision.objects.get()
    assert (decision.from_status, decision.to_status) == ("received", "reviewing")
    assert decision.decided_by == committee_member and decision.note == "已联系举报人核实"
    post({"new_status": "reviewing", "note": "补充：对方已挂断"})  # a note alone
    assert ReportDecision.objects.count() == 2
    assert Report.objects.get().status == "reviewing"


def test_nothing_about_reports_can_be_deleted_or_added_in_the_admin(
    client, submit, committee_member
):
    submit()
    report = Report.objects.get()
    client.force_login(committee_member)
    assert client.get(f"/admin/reports/report/{report.pk}/delete/").status_code == 403
    assert client.get("/admin/reports/report/add/").status_code == 403
    assert client.post(
        "/admin/reports/report/", {"action": "delete_selected", "_selected_action": [report.pk]}
    ).status_code in (200, 302)
    assert Report.objects.filter(pk=report.pk).exists()


def test_a_stale_status_change_is_refused(submit, committee_member):
    submit()
    report = Report.objects.get()
    stale = Report.objects.get()
    review_report(
        report, user=committee_member, to_status="closed", note="已办结归档", now=report.filed_at
    )
    from reports.services import ReportRefused

    with pytest.raises(ReportRefused):
        review_report(
            stale,
            user=committee_member,
            to_status="reviewing",
            note="重新核查",
            now=report.filed_at,
        )
    assert ReportDecision.objects.count() == 1


# --- The 防骗提示 ---------------------------------------------------------------------------


def test_the_default_notice_is_on_the_campaign_page_and_the_form(client, open_batch):
    for url in ["/", "/report/"]:
        text = client.get(url).content.decode()
        assert "从不收取任何费用" in text and "从未授权任何机构" in text, url


def test_the_committee_edits_the_notice_and_every_edit_is_kept(
    client, open_batch, committee_member, settings
):
    settings.CASEVOTE_PAGE_CACHE_SECONDS = 300
    assert "从不收取任何费用" in client.get("/").content.decode()  # now cached
    member = client_for(committee_member)
    form = member.get("/admin/reports/fraudnotice/add/").content.decode()
    assert "从不收取任何费用" in form  # starts from the current text
    response = member.post(
        "/admin/reports/fraudnotice/add/", {"title": "防骗提示", "body": "新的提示：组委会不收费。"}
    )
    assert response.status_code == 302
    assert FraudNotice.objects.count() == 2
    assert FraudNotice.objects.first().edited_by == committee_member
    text = client.get("/").content.decode()
    assert "新的提示：组委会不收费。" in text and "从未授权任何机构" not in text
    notice = FraudNotice.objects.first()
    assert member.get(f"/admin/reports/fraudnotice/{notice.pk}/delete/").status_code == 403


def test_editors_cannot_edit_the_notice(open_batch, editor):
    assert client_for(editor).get("/admin/reports/fraudnotice/add/").status_code == 403


def client_for(user):
    from django.test import Client

    other = Client()
    other.force_login(user)
    return other


# --- Retention ------------------------------------------------------------------------------


def test_anonymise_reports_removes_personal_data_of_long_closed_reports(
    report_with_shot,
    committee_member,
    clock,
    private_media,
    settings,
    django_capture_on_commit_callbacks,
):
    shot = report_with_shot.screenshots.get()
    review_report(
        report_with_shot,
        user=committee_member,
        to_status="closed",
        note="核实完毕，已办结",
        now=report_with_shot.filed_at,
    )
    call_command("anonymise_reports", stdout=io.StringIO())  # not yet due
    assert Report.objects.get().contact_details == "13800000000"
    clock.shift(timedelta(days=settings.CASEVOTE_REPORT_RETENTION_DAYS, seconds=1))
    out = io.StringIO()
    call_command("anonymise_reports", "--dry-run", stdout=out)
    assert "将删除 1 份举报" in out.getvalue() and "1 张截图" in out.getvalue()
    assert (private_media / shot.name).is_file()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("anonymise_reports", stdout=io.StringIO())
    report = Report.objects.get()
    assert (report.contact_name, report.contact_details, report.ip_network, report.ip_subnet) == (
        "",
        "",
        "",
        "",
    )
    assert report.anonymised_at is not None
    assert report.description and report.decisions.count() == 1  # the record stays
    shot.refresh_from_db()
    assert shot.name == "" and shot.removed_at is not None
    assert not any(p.is_file() for p in private_media.rglob("*"))
    again = io.StringIO()
    call_command("anonymise_reports", stdout=again)
    assert "已删除 0 份举报" in again.getvalue()


def test_after_the_campaign_every_report_is_anonymised(
    report_with_shot, open_batch, clock, settings
):
    with pytest.raises(CommandError, match="保留期还没有结束"):
        call_command("anonymise_reports", "--campaign-ended")
    clock.move_to(
        open_batch.voting_closes_at + timedelta(days=settings.CASEVOTE_RETENTION_DAYS, seconds=1)
    )
    call_command("anonymise_reports", "--campaign-ended", stdout=io.StringIO())
    report = Report.objects.get()
    assert report.status == "received" and report.contact_details == ""
    assert report.screenshots.get().name == ""


# --- Deploy checks ----------------------------------------------------------------------------


def test_a_private_root_inside_static_files_is_an_error(settings):
    from reports.checks import reports_storage

    settings.STORAGES = {
        **settings.STORAGES,
        "reports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(settings.STATIC_ROOT / "uploads")},
        },
    }
    assert [e.id for e in reports_storage(None)] == ["reports.E002"]


def test_a_world_readable_private_root_is_a_warning(settings, private_media):
    from reports.checks import private_root_permissions

    private_media.mkdir(mode=0o755)
    private_media.chmod(0o755)
    assert [e.id for e in private_root_permissions(None)] == ["reports.W001"]
    private_media.chmod(0o700)
    assert private_root_permissions(None) == []
