"""System checks: a WeChat gate that cannot work is reported at start-up, not by residents."""

import re
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.http.request import validate_host

from ballots.follow.events import aes_key

WECHAT_BACKEND = "ballots.follow.wechat.WeChatFollowBackend"
LOCAL_BACKEND = "ballots.follow.local.LocalFollowBackend"


@register()
def demo_gate(app_configs, **kwargs) -> list:
    """The local gate is self-declared: anyone may mint followers with it. A site with
    DEBUG off runs it only when it says it is a demonstration."""
    if settings.CASEVOTE_FOLLOW_BACKEND != LOCAL_BACKEND or settings.DEBUG:
        return []
    if settings.CASEVOTE_DEMO_GATE:
        return []
    return [
        Error(
            "The local follow gate is active with DEBUG off: anyone can declare they follow "
            "the official account and mint as many voters as they like.",
            hint="Configure the WeChat gate (CASEVOTE_FOLLOW_BACKEND="
            f"{WECHAT_BACKEND}, README: WeChat follow backend), or set CASEVOTE_DEMO_GATE=1 "
            "for a demonstration site (every gate page then says it is a demonstration).",
            id="casevote.E010",
        )
    ]


@register()
def wechat_settings(app_configs, **kwargs) -> list:
    if settings.CASEVOTE_FOLLOW_BACKEND != WECHAT_BACKEND:
        return []
    problems = []
    for name in ("CASEVOTE_WECHAT_APP_ID", "CASEVOTE_WECHAT_APP_SECRET"):
        if not getattr(settings, name):
            problems.append(
                Error(f"{name} is empty but the WeChat follow gate is active.", id="casevote.E001")
            )
    for name in ("CASEVOTE_WECHAT_API_BASE", "CASEVOTE_WECHAT_AUTHORIZE_URL"):
        if not getattr(settings, name).startswith(("https://", "http://")):
            problems.append(Error(f"{name} must be an http(s) URL.", id="casevote.E002"))
    if settings.CASEVOTE_WECHAT_TIMEOUT <= 0:
        problems.append(Error("CASEVOTE_WECHAT_TIMEOUT must be positive.", id="casevote.E003"))
    if not 0 < settings.CASEVOTE_WECHAT_DEADLINE <= MAX_WECHAT_DEADLINE:
        problems.append(
            Error(
                f"CASEVOTE_WECHAT_DEADLINE must be between 0 and {MAX_WECHAT_DEADLINE} seconds.",
                hint="All the WeChat calls of one request share it; gunicorn kills a worker "
                "after 30 s, and two workers waiting on WeChat stall the whole site.",
                id="ballots.E023",
            )
        )
    if (
        settings.CASEVOTE_WECHAT_BREAKER_FAILURES < 1
        or settings.CASEVOTE_WECHAT_BREAKER_SECONDS < 1
    ):
        problems.append(
            Error(
                "CASEVOTE_WECHAT_BREAKER_FAILURES and CASEVOTE_WECHAT_BREAKER_SECONDS must be "
                "at least 1.",
                id="ballots.E024",
            )
        )
    image = settings.CASEVOTE_WECHAT_QR_IMAGE
    if image and not Path(image).is_file():
        problems.append(
            Error(f"CASEVOTE_WECHAT_QR_IMAGE={image!r} is not a file.", id="casevote.E004")
        )
    if not image and not settings.CASEVOTE_WECHAT_QR_URL:
        problems.append(
            Warning(
                "The WeChat gate has no QR code for the official account.",
                hint="Set CASEVOTE_WECHAT_QR_IMAGE (a PNG/JPEG file) or CASEVOTE_WECHAT_QR_URL.",
                id="casevote.W001",
            )
        )
    return problems + event_settings()


MAX_WECHAT_DEADLINE = 10
VERIFY_FILE_NAME = re.compile(r"MP_verify_[A-Za-z0-9]{1,64}\.txt")


@register(Tags.security, deploy=True)
def wechat_deployment(app_configs, **kwargs) -> list:
    """What WeChat checks of a deployed site: the callback's origin is the account's
    网页授权域名 over HTTPS, and the MP_verify_*.txt file is served from that host."""
    if settings.CASEVOTE_FOLLOW_BACKEND != WECHAT_BACKEND:
        return []
    problems = []
    origin = urlsplit(settings.CASEVOTE_PUBLIC_ORIGIN)
    if (
        origin.scheme != "https"
        or not origin.hostname
        or origin.port is not None  # WeChat takes a domain on 443: no port, no IP address
        or origin.path
        or origin.query
    ):
        problems.append(
            Error(
                f"CASEVOTE_PUBLIC_ORIGIN={settings.CASEVOTE_PUBLIC_ORIGIN!r} is not the site's "
                "public https origin, so WeChat cannot send visitors back to the site.",
                hint="Set it to https://<the host of the account's 网页授权域名>, no port, "
                "no path (README: WeChat follow backend).",
                id="ballots.E020",
            )
        )
    elif not validate_host(origin.hostname, settings.ALLOWED_HOSTS):
        problems.append(
            Error(
                f"The host of CASEVOTE_PUBLIC_ORIGIN ({origin.netloc}) is not in ALLOWED_HOSTS.",
                id="ballots.E021",
            )
        )
    verify = settings.CASEVOTE_WECHAT_VERIFY_FILE
    if (
        not verify
        or not VERIFY_FILE_NAME.fullmatch(Path(verify).name)
        or not Path(verify).is_file()
    ):
        problems.append(
            Error(
                f"CASEVOTE_WECHAT_VERIFY_FILE={verify!r} is not the MP_verify_*.txt file "
                "WeChat asks the site to serve.",
                hint="Download it where the 网页授权域名 is set (公众号设置 → 功能设置) and "
                "give its path; it is served at /MP_verify_….txt.",
                id="ballots.E022",
            )
        )
    return problems


def event_settings() -> list:
    """The 服务器配置 push (/wechat/events/): a Token, and an EncodingAESKey that decodes."""
    problems = []
    if not settings.CASEVOTE_WECHAT_EVENT_TOKEN:
        problems.append(
            Warning(
                "CASEVOTE_WECHAT_EVENT_TOKEN is empty: WeChat's follow and unfollow events "
                "are refused, and unfollows are only noticed when a follower votes again.",
                hint="Set it to the Token of the account's 服务器配置 (README, WeChat follow backend).",
                id="casevote.W002",
            )
        )
    encoding_key = settings.CASEVOTE_WECHAT_ENCODING_AES_KEY
    if encoding_key:
        try:
            aes_key(encoding_key)
        except ValueError as error:
            problems.append(
                Error(f"CASEVOTE_WECHAT_ENCODING_AES_KEY: {error}.", id="casevote.E005")
            )
    return problems


@register(Tags.security, deploy=True)
def proxy_settings(app_configs, **kwargs) -> list:
    """Behind a proxy that is not listed in CASEVOTE_TRUSTED_PROXIES, every request comes
    from the proxy's address: the whole site shares one address's hourly budget (a 429
    for everyone after 120 ballots an hour) and the evidence is one address.

    A Warning, as Django's own deploy checks are: the project's bar for a clean
    `check --deploy` is `--fail-level WARNING` (tests/test_deploy.py), which it fails,
    while a proxy that hands gunicorn the voter's own address (PROXY protocol, a
    transparent proxy) is a sound setup without trusted proxies, not an error: there
    SILENCED_SYSTEM_CHECKS takes it."""
    if not settings.SECURE_PROXY_SSL_HEADER or settings.CASEVOTE_TRUSTED_PROXIES:
        return []
    return [
        Warning(
            "SECURE_PROXY_SSL_HEADER is set, so the site is behind a proxy, but "
            "CASEVOTE_TRUSTED_PROXIES is empty: every voter counts as the proxy's address, "
            "and the whole site shares one address's hourly ballot budget.",
            hint="List the proxy's address or network in CASEVOTE_TRUSTED_PROXIES "
            "(127.0.0.1 for a proxy on the same machine) so that its X-Forwarded-For "
            "names the voter.",
            id="casevote.W003",
        )
    ]
