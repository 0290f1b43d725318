"""System checks: a WeChat gate that cannot work is reported at start-up, not by residents."""

from pathlib import Path

from django.conf import settings
from django.core.checks import Error, Warning, register

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
