"""Bad input at volume on the report form and the status page: hypothesis posts random
fields, hostile files, tokens and headers. Never a 5xx; a report is filed exactly when
every part of the input is valid, then exactly one, and a refused one stores nothing."""

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from hypothesis import given, note
from hypothesis import strategies as st
from PIL import Image

from reports.models import Report, Screenshot
from reports.services import make_form_token
from tests.fuzzing import (
    assert_no_server_error,
    fuzz_client,
    fuzz_settings,
    nasty_text,
    random_headers,
    rolled_back,
    tamper,
)
from tests.reports_helpers import jpeg_with_gps, png_bomb, png_bytes, webp_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz]


@pytest.fixture
def form_site(open_batch, clock, settings, tmp_path):
    settings.CASEVOTE_REPORTS_PER_ADDRESS_HOURLY = 10_000
    settings.CASEVOTE_REPORTS_PER_SUBNET_HOURLY = 10_000
    settings.CASEVOTE_REPORT_LOOKUPS_PER_ADDRESS_HOURLY = 10_000
    settings.STORAGES = {
        **settings.STORAGES,
        "reports": {
            **settings.STORAGES["reports"],
            "OPTIONS": {**settings.STORAGES["reports"]["OPTIONS"], "location": str(tmp_path)},
        },
    }
    return open_batch


# Each part of the form, from a pool of valid values or of bad ones: the spec, written
# apart from the code. An example breaks none, one or two parts, so that each kind of
# bad input is seen on its own (with every part random, one is almost always bad).
WORDS = st.sampled_from(list("有人冒用组委会名义收费刷票代投群聊截图电话abcXYZ0123"))


def day_text(offset: int, fmt: str = "%Y-%m-%d") -> str:
    return (timezone.localdate() - timedelta(days=offset)).strftime(fmt)


def tiny_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(out, "PNG")
    return out.getvalue()


GOOD_FILES = [
    ("a.png", png_bytes(40, 60)),
    ("b.jpg", jpeg_with_gps(40, 30)),
    ("c.webp", webp_bytes(20, 20)),
]
HOSTILE_FILES = [
    ("t.png", b"plain text renamed"),
    ("h.jpg", b"<html><script>alert(1)</script></html>"),
    ("p.png", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"),
    ("bomb.png", png_bomb(30000, 30000)),
    ("big.png", png_bomb(6000, 6000)),
    ("poly.png", tiny_png() + b"<script>alert(1)</script>"),
    ("poly2.jpg", jpeg_with_gps(40, 30) + b"%PDF-1.4 trailing"),
    ("cut.png", tiny_png()[:40]),
    ("cut.jpg", jpeg_with_gps(40, 30)[:200]),
    ("empty.png", b""),
]
random_bytes_file = st.tuples(
    st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF\x00\x00\x00\x00WEBP", b""]),
    st.binary(max_size=300),
).map(lambda parts: ("r.png", parts[0] + parts[1]))

VALID = {
    "kind_case": st.one_of(
        st.tuples(st.sampled_from(["impersonation", "other"]), st.sampled_from(["", "31", "035"])),
        st.tuples(st.just("brushing"), st.sampled_from(["31", "39", "040", "33"])),
    ),
    "description": st.text(WORDS, min_size=10, max_size=200),
    "happened_on": st.tuples(st.integers(0, 365), st.sampled_from(["%Y-%m-%d", "%Y/%m/%d"])).map(
        lambda o: day_text(*o)
    ),
    "contact_details": st.text(WORDS, max_size=100),
    "screenshots": st.lists(st.sampled_from(GOOD_FILES), max_size=3),
    "token": st.just("fresh"),
    "website": st.just(""),
}
BAD = {
    "kind_case": st.one_of(
        st.tuples(st.just("brushing"), st.just("")),
        st.tuples(
            st.sampled_from(["impersonation", "other", "brushing"]),
            st.sampled_from(["999", "61", "0", "abc", "-1", "1e3", "31.5"]),
        ),
        st.tuples(
            nasty_text.filter(lambda k: k.strip() not in {"brushing", "impersonation", "other"}),
            st.just(""),
        ),
    ),
    "description": st.one_of(
        st.text(WORDS, max_size=9),
        st.text(WORDS, min_size=3001, max_size=3100),
        st.text(WORDS, min_size=10, max_size=20).map(lambda t: t[:5] + "\x00" + t[5:]),
        st.just("   \n\t  "),
    ),
    "happened_on": st.one_of(
        st.integers(1, 5000).map(lambda o: day_text(-o)),  # the future
        st.integers(367, 5000).map(day_text),  # more than a year ago
        st.sampled_from(["", "昨天", "2026-02-30", "2026-13-01", "0000-00-00", "9999999-1-1"]),
    ),
    "contact_details": st.text(WORDS, min_size=101, max_size=120),
    "screenshots": st.one_of(
        st.tuples(
            st.lists(st.sampled_from(GOOD_FILES), max_size=2),
            st.one_of(st.sampled_from(HOSTILE_FILES), random_bytes_file),
        ).map(lambda parts: [*parts[0], parts[1]]),
        st.lists(st.sampled_from(GOOD_FILES), min_size=4, max_size=5),
    ),
    "token": st.sampled_from(["missing", "too_fast", "expired", "tampered"]),
    "website": nasty_text.filter(str.strip),  # what the form keeps after stripping
}


def token_of(kind: str, data) -> str:
    now = timezone.now()
    if kind == "missing":
        return ""
    if kind == "too_fast":
        return make_form_token(now)
    if kind == "expired":
        return make_form_token(now - timedelta(hours=2))
    token = make_form_token(now - timedelta(seconds=30))
    return tamper(data, token) if kind == "tampered" else token


def test_the_report_form_files_exactly_the_valid_reports(form_site):
    @fuzz_settings(150)
    @given(st.data(), st.sets(st.sampled_from(sorted(VALID)), max_size=2), random_headers)
    def check(data, broken, headers):
        parts = {
            name: data.draw((BAD if name in broken else VALID)[name], label=name) for name in VALID
        }
        kind, case = parts["kind_case"]
        uploads = parts["screenshots"]
        valid = not broken
        with rolled_back():
            before = Report.objects.count(), Screenshot.objects.count()
            payload = {
                "kind": kind,
                "case": case,
                "description": parts["description"],
                "happened_on": parts["happened_on"],
                "contact_details": parts["contact_details"],
                "token": token_of(parts["token"], data),
                "website": parts["website"],
            }
            if uploads:
                payload["screenshots"] = [SimpleUploadedFile(n, c) for n, c in uploads]
            response = fuzz_client().post("/report/", payload, **headers)
            note(f"{response.status_code} broken={sorted(broken)}")
            assert_no_server_error(response)
            after = Report.objects.count(), Screenshot.objects.count()
            if valid:
                assert response.status_code == 200, response.content.decode()[-3000:]
                assert after == (before[0] + 1, before[1] + len(uploads))
            else:
                assert response.status_code >= 400
                assert after == before

    check()


polyglot = st.tuples(
    st.sampled_from(GOOD_FILES),
    st.sampled_from(
        [b"<html>", b"<script>", b"<svg onload=x>", b"%PDF-1.7", b"<?php", b"<!DOCTYPE html>"]
    ),
    st.binary(max_size=200),
    st.booleans(),
).map(
    # the second file after the image, or hidden inside it (before its end marker)
    lambda p: (
        (p[0][0], p[0][1] + p[1] + p[2])
        if p[3]
        else (p[0][0], p[0][1][:-12] + p[1] + p[2] + p[0][1][-12:])
    )
)


def test_hostile_screenshots_with_an_otherwise_valid_report_store_nothing(form_site):
    @fuzz_settings(80)
    @given(
        st.data(),
        st.one_of(st.sampled_from(HOSTILE_FILES), random_bytes_file, polyglot),
        st.lists(st.sampled_from(GOOD_FILES), max_size=2),
        st.integers(0, 2),
    )
    def check(data, hostile, good, position):
        uploads = [*good]
        uploads.insert(min(position, len(uploads)), hostile)
        with rolled_back():
            payload = {
                "kind": "other",
                "description": "有人冒用组委会名义收费代投",
                "happened_on": day_text(1),
                "token": token_of("fresh", data),
                "website": "",
                "screenshots": [SimpleUploadedFile(n, c) for n, c in uploads],
            }
            response = fuzz_client().post("/report/", payload)
            assert_no_server_error(response)
            assert response.status_code == 400
            assert hostile[0] in response.content.decode()  # the message names the file
            assert not Report.objects.exists() and not Screenshot.objects.exists()

    check()


def test_the_status_page_never_fails_and_reveals_nothing(form_site, committee_member):
    from reports.services import review_report

    report = Report.objects.create(
        code="K7QM3XRT9PWD2HNA",
        kind="other",
        description="一份用于模糊测试的举报内容",
        happened_on=timezone.localdate(),
        contact_details="13800000000",
        filed_at=timezone.now(),
        status_changed_at=timezone.now(),
        form_nonce="f" * 32,
    )
    review_report(
        report,
        user=committee_member,
        to_status="reviewing",
        note="内部意见绝密",
        now=timezone.now(),
    )

    @fuzz_settings(120)
    @given(
        st.one_of(
            nasty_text,
            st.sampled_from(
                ["K7QM-3XRT-9PWD-2HNA", "k7qm 3xrt 9pwd 2hna", "Ｋ７ＱＭ３ＸＲＴ９ＰＷＤ２ＨＮＡ"]
            ),
            st.text(st.sampled_from("23456789ABCDEFGHJKMNPQRSTUVWXYZ- "), max_size=30),
        ),
        st.sampled_from(["GET", "POST"]),
        random_headers,
    )
    def check(code, method, headers):
        client = fuzz_client()
        if method == "GET":
            response = client.get("/report/status/", {"code": code}, **headers)
        else:
            response = client.post("/report/status/", {"code": code}, **headers)
        assert_no_server_error(response)
        text = response.content.decode()
        assert "内部意见绝密" not in text and "13800000000" not in text

    check()
