"""Deployment hardening: security headers, a strict CSP, /healthz, clear 503s."""

import os
import re
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from django.db import OperationalError

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_PAGES = ["/", "/cases/031/", "/vote/", "/results/", "/announcements/", "/selected/"]
HEALTH_AND_PAGES = ["/healthz", *PUBLIC_PAGES]


def test_healthz_answers_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.content == b"ok"


def test_healthz_is_never_cached(client):
    response = client.get("/healthz")

    assert "no-store" in response["Cache-Control"] and "max-age=0" in response["Cache-Control"]
    assert response["Expires"]


@pytest.mark.parametrize("path", HEALTH_AND_PAGES)
def test_public_pages_send_the_security_headers(client, open_batch, clock, path):
    response = client.get(path)

    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_every_response_carries_the_policy_exactly_as_django_builds_it(client, open_batch, clock):
    from django.conf import settings
    from django.utils.csp import build_policy

    policies = {client.get(path)["Content-Security-Policy"] for path in HEALTH_AND_PAGES * 2}

    assert policies == {build_policy(settings.SECURE_CSP)}


def test_a_changed_policy_is_sent_from_the_next_response(client, settings):
    settings.SECURE_CSP = {**settings.SECURE_CSP, "img-src": ["'self'"]}

    assert "img-src 'self';" in client.get("/healthz")["Content-Security-Policy"] + ";"


def test_a_view_policy_is_kept_and_a_nonce_differs_on_every_response(rf, settings):
    """A view's own policy (Django's csp_override) and one that asks for a nonce."""
    from django.http import HttpResponse
    from django.middleware.csp import get_nonce
    from django.utils.csp import CSP

    from casevote.middleware import ContentSecurityPolicyMiddleware

    own = {"default-src": ["'self'"], "script-src": ["'self'", "https://res.wx.qq.com"]}
    nonced = {"default-src": ["'self'"], "script-src": ["'self'", CSP.NONCE]}

    def view_with(config):
        def view(request):
            response = HttpResponse(f"<script nonce='{get_nonce(request)}'>")  # uses it
            response._csp_config = config
            return response

        return ContentSecurityPolicyMiddleware(view)

    assert view_with(own)(rf.get("/"))["Content-Security-Policy"] == (
        "default-src 'self'; script-src 'self' https://res.wx.qq.com"
    )
    first, second = (view_with(nonced)(rf.get("/"))["Content-Security-Policy"] for _ in "12")
    assert "'nonce-" in first and first != second


def test_a_browser_asking_for_english_still_gets_chinese(client, admin_client, open_batch, clock):
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    admin = admin_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()

    assert 'lang="zh-Hans"' in page and "投票" in page
    assert "站点管理" in admin or "管理" in admin
    assert "Site administration" not in admin and "Log out" not in admin


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_pages_have_no_inline_script_or_style(client, open_batch, clock, path):
    html = client.get(path).content.decode()

    # Scripts only from our own static files (progressive enhancement), never inline.
    for tag, body in re.findall(r"(<script\b[^>]*>)(.*?)</script>", html, flags=re.S):
        assert re.search(r'\ssrc="/static/[^"]+\.js"', tag) and not body.strip(), tag
    assert html.count("<script") == len(re.findall(r"<script\b[^>]*>.*?</script>", html, re.S))
    assert "<style" not in html
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers


def test_an_unreachable_database_gives_the_503_page(client, db):
    with mock.patch(
        "cases.views.Batch.objects.published",
        side_effect=OperationalError("could not connect to server: Connection refused"),
    ):
        response = client.get("/")

    html = response.content.decode()
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "服务暂时不可用" in html
    assert "Traceback" not in html and "OperationalError" not in html


# Production is the WeChat gate, fully configured (README: WeChat follow backend).
WECHAT_GATE = {
    "CASEVOTE_FOLLOW_BACKEND": "ballots.follow.wechat.WeChatFollowBackend",
    "CASEVOTE_WECHAT_APP_ID": "wx0123456789abcdef",
    "CASEVOTE_WECHAT_APP_SECRET": "an-app-secret-from-the-environment",
    "CASEVOTE_WECHAT_EVENT_TOKEN": "the-token-of-the-server-configuration",
    "CASEVOTE_WECHAT_QR_URL": "https://mp.weixin.qq.com/qr/example",
    "CASEVOTE_PUBLIC_ORIGIN": "https://vote.example.cn",
}
VERIFY_FILE_NAME = "MP_verify_a1B2c3D4e5F6g7H8.txt"


def verify_file(tmp_path) -> str:
    """The MP_verify_*.txt WeChat hands out when the 网页授权域名 is set."""
    path = tmp_path / VERIFY_FILE_NAME
    path.write_text("a1B2c3D4e5F6g7H8")
    return str(path)


def production_env(tmp_path, **changes: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("CASEVOTE_") and key != "DEBUG"
    }
    return env | {
        "DEBUG": "0",
        "SECRET_KEY": "a-production-like-secret-key-with-enough-entropy-9f8e7d6c5b4a3210zyx",
        "ALLOWED_HOSTS": "vote.example.cn",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
        **changes,
    }


def run_python(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 (this interpreter, our own arguments)
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


def test_the_demo_gate_with_debug_off_is_an_error_that_stops_the_server(tmp_path):
    env = production_env(tmp_path)  # the local gate is the default backend

    check = run_python(env, "manage.py", "check", "--deploy")
    server = run_python(env, "-c", "import casevote.wsgi")

    assert check.returncode != 0
    assert "casevote.E010" in check.stderr and "CASEVOTE_DEMO_GATE=1" in check.stderr
    assert server.returncode != 0 and "casevote.E010" in server.stderr


def test_a_site_that_says_it_is_a_demonstration_runs_the_demo_gate(tmp_path):
    env = production_env(tmp_path, CASEVOTE_DEMO_GATE="1")

    assert "casevote.E010" not in run_python(env, "manage.py", "check").stderr
    assert run_python(env, "-c", "import casevote.wsgi").returncode == 0


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "a-production-like-secret-key-with-enough-entropy-9f8e7d6c5b4a3210zyx",
        "ALLOWED_HOSTS": "vote.example.cn",
        "SECURE_SSL_REDIRECT": "1",
        "SECURE_HSTS_SECONDS": "31536000",
        "SECURE_HSTS_PRELOAD": "1",
        "SECURE_PROXY_SSL_HEADER": "1",
        "CASEVOTE_TRUSTED_PROXIES": "127.0.0.1",  # the proxy the header comes from
        "CASEVOTE_STAFF_2FA": "1",
        "CASEVOTE_PUBLIC_ORIGIN": "https://vote.example.cn",
        "CASEVOTE_SHARED_CACHE_URL": "redis://cache.internal:6379/0",  # not asked by checks
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
        **WECHAT_GATE,
        "CASEVOTE_WECHAT_VERIFY_FILE": verify_file(tmp_path),
    }

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("changes", "check_id"),
    [
        ({"CASEVOTE_PUBLIC_ORIGIN": ""}, "ballots.E020"),
        ({"CASEVOTE_PUBLIC_ORIGIN": "http://vote.example.cn"}, "ballots.E020"),
        ({"CASEVOTE_PUBLIC_ORIGIN": "https://vote.example.cn:8443"}, "ballots.E020"),
        ({"CASEVOTE_PUBLIC_ORIGIN": "https://other.example.cn"}, "ballots.E021"),
        ({"CASEVOTE_WECHAT_VERIFY_FILE": ""}, "ballots.E022"),
        ({"CASEVOTE_WECHAT_VERIFY_FILE": "/nonexistent/MP_verify_abc.txt"}, "ballots.E022"),
        ({"CASEVOTE_WECHAT_VERIFY_FILE": __file__}, "ballots.E022"),
    ],
    ids=[
        "no public origin",
        "origin over http",
        "origin with a port",
        "origin not an allowed host",
        "no verification file",
        "verification file missing",
        "not an MP_verify file",
    ],
)
def test_check_deploy_flags_what_wechat_would_refuse(tmp_path, changes, check_id):
    env = production_env(tmp_path, **WECHAT_GATE, CASEVOTE_WECHAT_VERIFY_FILE=verify_file(tmp_path))
    env |= changes

    deploy = run_python(env, "manage.py", "check", "--deploy")
    plain = run_python(env, "manage.py", "check")

    assert deploy.returncode != 0
    assert check_id in deploy.stderr
    assert check_id not in plain.stderr  # a development site needs neither


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "CASEVOTE_TRUSTED_PROXIES",
            "127.0.0.1,10.0.0.0/33",
            "CASEVOTE_TRUSTED_PROXIES: '10.0.0.0/33' is not an address or network.",
        ),
        (
            "CASEVOTE_WECHAT_ENCODING_AES_KEY",
            "not-the-key",
            "CASEVOTE_WECHAT_ENCODING_AES_KEY must be the 43 characters WeChat shows.",
        ),
        (
            "CASEVOTE_LOGIN_LOCKOUT_MINUTES",
            "half an hour",
            "CASEVOTE_LOGIN_LOCKOUT_MINUTES='half an hour' is not an integer.",
        ),
        ("CASEVOTE_STAFF_2FA", "required", "CASEVOTE_STAFF_2FA='required' is not a boolean"),
    ],
)
def test_a_malformed_setting_stops_the_start(tmp_path, variable, value, message):
    env = {
        **os.environ,
        "DEBUG": "1",
        variable: value,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'settings.sqlite3'}",
    }

    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode != 0
    assert message in result.stderr
