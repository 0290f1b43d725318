"""Staff sign-in at /admin/login/: lockout after repeated failures per account and address
(django-axes), and TOTP two-factor sign-in when CASEVOTE_STAFF_2FA is on (django-otp)."""

import io
import time
from base64 import b32encode
from datetime import timedelta

import pytest
from django.core import checks
from django.core.management import CommandError, call_command
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

OFFICE = "203.0.113.5"
ELSEWHERE = "198.51.100.77"
PROXY = "10.0.0.2"
LOCKOUT = timedelta(minutes=30)
PASSWORD = "pw"  # the staff fixtures' (conftest.py)


def sign_in(client, username="committee", password=PASSWORD, address=OFFICE, **extra):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, **extra},
        REMOTE_ADDR=address,
    )


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def fail(client, times: int, username="committee", address=OFFICE):
    for _ in range(times):
        sign_in(client, username=username, password="wrong", address=address)


# --- Lockout ------------------------------------------------------------------------


def test_it_refuses_the_right_password_after_25_wrong_ones(client, committee_member, clock):
    fail(client, 25)

    response = sign_in(client)

    assert response.status_code == 429
    assert not signed_in(client)


def test_an_over_long_username_is_a_form_error_and_records_nothing(client, committee_member):
    from axes.models import AccessAttempt, AccessFailureLog

    response = sign_in(client, username="中" * 300, password="wrong")

    assert response.status_code == 200
    assert "150" in response.content.decode()  # "…最多 150 个字符…"
    assert not AccessAttempt.objects.exists() and not AccessFailureLog.objects.exists()


def test_it_shows_the_locked_out_member_a_page_in_chinese(client, committee_member, clock):
    fail(client, 5)

    response = sign_in(client)

    html = response.content.decode()
    assert response.status_code == 429
    assert response["Retry-After"] == "1800"
    assert "登录已暂时锁定" in html
    assert "连续 5 次登录失败" in html
    assert "30 分钟" in html
    assert "联系网站管理员" in html


def test_it_lets_the_fifth_try_be_the_right_one(client, committee_member, clock):
    fail(client, 4)

    response = sign_in(client)

    assert response.status_code == 302
    assert signed_in(client)


def test_the_fifth_failure_locks_the_account_out(client, committee_member, clock):
    fail(client, 4)
    assert sign_in(client, password="wrong").status_code == 429

    assert sign_in(client).status_code == 429
    assert not signed_in(client)


def test_a_success_forgets_the_earlier_failures(client, committee_member, clock):
    fail(client, 4)
    sign_in(client)
    client.logout()

    fail(client, 4)
    response = sign_in(client)

    assert response.status_code == 302


def test_a_lockout_is_for_one_account_from_one_address(client, committee_member, editor, clock):
    fail(client, 25)

    assert sign_in(client, address=ELSEWHERE).status_code == 302
    client.logout()
    assert sign_in(client, username="editor", address=OFFICE).status_code == 302


def test_a_client_cannot_escape_the_lockout_with_its_own_forwarded_header(
    client, committee_member, clock
):
    fail(client, 5)

    response = client.post(
        "/admin/login/",
        {"username": "committee", "password": "pw"},
        REMOTE_ADDR=OFFICE,
        HTTP_X_FORWARDED_FOR=ELSEWHERE,
    )

    assert response.status_code == 429


def test_behind_our_proxy_each_forwarded_client_is_its_own_address(
    client, committee_member, clock, settings
):
    settings.CASEVOTE_TRUSTED_PROXIES = [PROXY]
    for _ in range(5):
        client.post(
            "/admin/login/",
            {"username": "committee", "password": "wrong"},
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR=OFFICE,
        )

    locked = client.post(
        "/admin/login/",
        {"username": "committee", "password": "pw"},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=OFFICE,
    )
    other = client.post(
        "/admin/login/",
        {"username": "committee", "password": "pw"},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=ELSEWHERE,
    )

    assert locked.status_code == 429
    assert other.status_code == 302


def test_the_lockout_holds_until_the_period_is_over(client, committee_member, clock):
    fail(client, 5)
    clock.shift(LOCKOUT - timedelta(seconds=1))

    assert sign_in(client).status_code == 429


def test_the_lockout_ends_after_the_period(client, committee_member, clock):
    fail(client, 5)
    clock.shift(LOCKOUT + timedelta(seconds=1))

    response = sign_in(client)

    assert response.status_code == 302
    assert signed_in(client)


def test_a_try_during_the_lockout_starts_the_period_again(client, committee_member, clock):
    fail(client, 5)
    clock.shift(LOCKOUT - timedelta(minutes=1))
    sign_in(client)  # refused, and counted

    clock.shift(timedelta(minutes=2))  # 31 minutes after the lockout began
    assert sign_in(client).status_code == 429
    clock.shift(LOCKOUT + timedelta(seconds=1))
    assert sign_in(client).status_code == 302


def test_the_limit_and_the_period_come_from_the_settings(client, committee_member, clock, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = timedelta(minutes=10)
    fail(client, 2)

    response = sign_in(client)

    assert response.status_code == 429
    assert "10 分钟" in response.content.decode()
    clock.shift(timedelta(minutes=10, seconds=1))
    assert sign_in(client).status_code == 302


# --- The committee reads the sign-in records ----------------------------------------


def test_the_committee_sees_failed_sign_ins_and_lockouts_in_the_admin(
    client, committee_member, clock
):
    fail(client, 5, address=OFFICE)
    client.force_login(committee_member)

    attempts = client.get("/admin/axes/accessattempt/")
    failures = client.get("/admin/axes/accessfailurelog/")

    assert attempts.status_code == 200
    assert OFFICE in attempts.content.decode()
    assert failures.status_code == 200
    assert failures.content.decode().count(OFFICE) >= 5


def test_the_committee_sees_successful_sign_ins(client, committee_member, clock):
    sign_in(client, address=ELSEWHERE)

    page = client.get("/admin/axes/accesslog/")

    assert page.status_code == 200
    assert ELSEWHERE in page.content.decode()


def test_the_committee_finds_the_records_under_chinese_names(committee_client):
    html = committee_client.get("/admin/").content.decode()

    for name in ("登录记录", "近期登录失败", "登录失败记录", "成功登录记录"):
        assert name in html
    assert "Access attempts" not in html


def test_editors_do_not_see_the_sign_in_records(client, editor):
    client.force_login(editor)

    for path in ("/admin/axes/accessattempt/", "/admin/axes/accesslog/"):
        assert client.get(path).status_code == 403
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 403


def test_only_a_superuser_sees_the_devices(client, committee_member):
    client.force_login(committee_member)

    assert client.get("/admin/otp_totp/totpdevice/").status_code == 403


# --- Two-factor sign-in (CASEVOTE_STAFF_2FA) ---------------------------------------------


@pytest.fixture
def two_factor(settings):
    settings.CASEVOTE_STAFF_2FA = True


@pytest.fixture
def device(committee_member) -> TOTPDevice:
    return TOTPDevice.objects.create(user=committee_member, name="手机验证器")


def code_of(device: TOTPDevice, steps: int = 0) -> str:
    """What the member's authenticator app shows now (or `steps` periods of 30 s away)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps * device.step
    return f"{totp.token():0{device.digits}d}"


def wrong_code(device: TOTPDevice) -> str:
    """Six digits that are none of the codes accepted now (the current one and its
    neighbours, for a phone's clock that is a little off)."""
    accepted = {code_of(device, steps) for steps in (-1, 0, 1)}
    return next(code for code in ("000000", "111111", "222222") if code not in accepted)


def test_without_2fa_the_sign_in_asks_for_no_code(client, db):
    page = client.get("/admin/login/")

    assert page.status_code == 200
    assert 'name="otp_token"' not in page.content.decode()


def test_with_2fa_the_sign_in_asks_for_the_code(client, db, two_factor):
    html = client.get("/admin/login/").content.decode()

    assert 'name="otp_token"' in html
    assert "动态口令" in html


def test_with_2fa_a_password_alone_does_not_get_in(client, device, two_factor, clock):
    response = sign_in(client)

    assert response.status_code == 200
    assert "请输入手机验证器上的 6 位动态口令" in response.content.decode()
    assert not signed_in(client)


def test_with_2fa_the_password_and_the_current_code_get_in(client, device, two_factor, clock):
    response = sign_in(client, otp_token=code_of(device))

    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_with_2fa_a_wrong_code_does_not_get_in(client, device, two_factor, clock):
    response = sign_in(client, otp_token=wrong_code(device))

    html = response.content.decode()
    assert response.status_code == 200
    assert "请输入正确的用户名、密码和动态口令" in html
    assert not signed_in(client)
    assert client.get("/admin/").status_code == 302


def test_with_2fa_a_wrong_password_reads_like_a_wrong_code(client, device, two_factor, clock):
    response = sign_in(client, password="wrong", otp_token=code_of(device))

    assert "请输入正确的用户名、密码和动态口令" in response.content.decode()


def test_with_2fa_wrong_codes_count_towards_the_lockout(client, device, two_factor, clock):
    for _ in range(5):
        clock.shift(timedelta(seconds=40))  # past django-otp's own slow-down
        sign_in(client, otp_token=wrong_code(device))

    clock.shift(timedelta(seconds=40))
    response = sign_in(client, otp_token=code_of(device))

    assert response.status_code == 429
    assert not signed_in(client)


def test_with_2fa_a_code_works_once(client, device, two_factor, clock):
    code = code_of(device)
    sign_in(client, otp_token=code)
    client.logout()

    response = sign_in(client, otp_token=code)

    assert response.status_code == 200
    assert not signed_in(client)


def test_with_2fa_an_account_without_a_device_is_told_to_ask_the_administrator(
    client, committee_member, two_factor, clock
):
    response = sign_in(client, otp_token="123456")

    html = response.content.decode()
    assert response.status_code == 200
    assert "还没有登记手机验证器" in html
    assert "请联系网站管理员为您登记" in html
    assert not signed_in(client)


def test_with_2fa_a_session_signed_in_with_a_password_alone_is_sent_to_sign_in(
    client, device, two_factor
):
    client.force_login(device.user)  # e.g. signed in before 2FA was turned on

    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert "两步验证" in client.get(response["Location"]).content.decode()


def test_with_2fa_a_draft_is_previewed_only_after_the_code(client, device, two_factor, tmp_path):
    from django.core.management import call_command

    from tests.test_campaign_batches import batch3_file

    call_command("load_cases", batch3_file(tmp_path), verbosity=0)  # batch 3: a draft
    client.force_login(device.user)  # a password alone, e.g. from before 2FA

    assert client.get("/batches/3/").status_code == 404


def test_a_superuser_shows_a_member_their_qr_code_in_the_admin(
    client, django_user_model, committee_member
):
    client.force_login(django_user_model.objects.create_superuser("root", password=PASSWORD))
    added = client.post(
        "/admin/otp_totp/totpdevice/add/",
        {
            "user": committee_member.pk,
            "name": "手机验证器",
            "confirmed": "on",
            "key": "3132333435363738393031323334353637383930",
            "step": 30,
            "t0": 0,
            "digits": 6,
            "tolerance": 1,
            "drift": 0,
            "throttling_failure_count": 0,
        },
    )
    device = TOTPDevice.objects.get(user=committee_member)

    config = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/config/")
    image = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/qrcode/")

    assert added.status_code == 302
    assert config.status_code == 200
    assert image["Content-Type"] == "image/svg+xml"
    assert image.content.startswith(b"<?xml")


# --- The first device: manage.py add_totp_device ------------------------------------------


def run(*args) -> str:
    out = io.StringIO()
    call_command("add_totp_device", *args, stdout=out)
    return out.getvalue()


def test_the_command_gives_an_account_a_device_that_signs_in(
    client, committee_member, two_factor, clock
):
    output = run("committee")

    device = TOTPDevice.objects.get(user=committee_member)
    assert device.confirmed
    assert device.config_url in output
    assert "█" in output  # the QR code, drawn in the terminal
    secret = b32encode(device.bin_key).decode()
    assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in output
    assert sign_in(client, otp_token=code_of(device)).status_code == 302


def test_the_command_refuses_a_second_device_unless_replacing(committee_member):
    run("committee")
    first = TOTPDevice.objects.get(user=committee_member)

    with pytest.raises(CommandError, match="已经登记了手机验证器"):
        run("committee")
    run("committee", "--replace")

    device = TOTPDevice.objects.get(user=committee_member)
    assert device.pk != first.pk and device.key != first.key


def test_the_command_dry_run_changes_nothing(committee_member):
    output = run("committee", "--dry-run")

    assert "试运行" in output
    assert not TOTPDevice.objects.exists()


@pytest.mark.parametrize(
    ("username", "message"), [("nobody", "没有用户名为 'nobody' 的账号"), ("plain", "不是职员账号")]
)
def test_the_command_names_a_bad_account(db, django_user_model, username, message):
    django_user_model.objects.create_user("plain", password="pw")

    with pytest.raises(CommandError, match=message):
        run(username)


# --- System checks ------------------------------------------------------------------------


def deploy_warnings() -> list[str]:
    return [
        message.id
        for message in checks.run_checks(
            include_deployment_checks=True, tags=[checks.Tags.security]
        )
        if message.id and message.id.startswith("signin.")
    ]


def test_production_without_2fa_is_warned(settings):
    settings.DEBUG = False
    settings.CASEVOTE_STAFF_2FA = False

    assert deploy_warnings() == ["signin.W001"]


def test_production_with_2fa_is_not_warned(settings):
    settings.DEBUG = False
    settings.CASEVOTE_STAFF_2FA = True

    assert deploy_warnings() == []


def test_a_lockout_setting_below_one_is_an_error(settings):
    settings.CASEVOTE_STAFF_2FA = True
    settings.AXES_FAILURE_LIMIT = 0
    settings.AXES_COOLOFF_TIME = timedelta(0)

    assert deploy_warnings() == ["signin.E001", "signin.E002"]
