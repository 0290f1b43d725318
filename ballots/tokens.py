"""Signed, expiring tokens: follow links, WeChat authorisation states and ballot forms.

All are signed with SECRET_KEY (Django signing), carry a random nonce, and are
spent once: the nonce is stored with what the token produced (a unique key), so a
replay fails in the database, not in a Python check.
"""

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core import signing
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from casevote.errors import Refusal

FOLLOW_SALT = "casevote.follow-link"
FORM_SALT = "casevote.ballot-form"
WECHAT_STATE_SALT = "casevote.wechat-state"
WECHAT_STATE_PATTERN = re.compile(r"^(ws[0-9a-f]{30})([0-9a-f]{8})([0-9a-f]{32})$")
NONCE_PATTERN = re.compile(r"[0-9a-f]{32}")  # what new_nonce() makes


class TokenError(Refusal):
    """A token that is missing, tampered with or expired; `message` is for people."""


def new_nonce() -> str:
    return secrets.token_hex(16)


def make_follow_token() -> str:
    return signing.dumps({"n": new_nonce()}, salt=FOLLOW_SALT, compress=True)


def read_follow_token(token: str) -> str:
    """The link's nonce, or TokenError."""
    max_age = timedelta(seconds=settings.CASEVOTE_FOLLOW_LINK_MAX_AGE)
    try:
        payload = signing.loads(token, salt=FOLLOW_SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise TokenError("这个关注链接已过期（有效期 10 分钟）。请重新扫码。") from None
    except signing.BadSignature:
        raise TokenError("这个关注链接无效。请重新扫码。") from None
    if not isinstance(payload, dict) or not NONCE_PATTERN.fullmatch(str(payload.get("n"))):
        raise TokenError("这个关注链接无效。请重新扫码。")
    return payload["n"]


def _wechat_state_mac(nonce: str, issued: str) -> str:
    return salted_hmac(WECHAT_STATE_SALT, nonce + issued, algorithm="sha256").hexdigest()[:32]


def make_wechat_state(now: datetime | None = None) -> str:
    """The `state` of a WeChat authorisation round trip: nonce, time issued, signature.

    WeChat passes `state` back only if it is at most 128 characters of [a-zA-Z0-9],
    so this is hex (72 characters), not Django's signing format. The nonce starts
    with "ws" so a spent state is recognisable among UsedFollowToken rows.
    """
    now = now or timezone.now()
    nonce = "ws" + secrets.token_hex(15)
    issued = f"{int(now.timestamp()):08x}"
    return nonce + issued + _wechat_state_mac(nonce, issued)


def read_wechat_state(state: str, now: datetime | None = None) -> str:
    """The state's nonce, or TokenError if it is tampered with or expired."""
    now = now or timezone.now()
    match = WECHAT_STATE_PATTERN.match(state or "")
    if not match:
        raise TokenError("登录信息无效。请重新打开投票页面。")
    nonce, issued, mac = match.groups()
    if not constant_time_compare(mac, _wechat_state_mac(nonce, issued)):
        raise TokenError("登录信息无效。请重新打开投票页面。")
    age = now.timestamp() - int(issued, 16)
    if age > settings.CASEVOTE_FOLLOW_LINK_MAX_AGE or age < -60:
        raise TokenError("登录信息已过期。请重新打开投票页面。")
    return nonce


@dataclass(frozen=True)
class FormToken:
    nonce: str
    served_at: datetime
    follower_id: int
    batch_id: int


def make_form_token(follower_id: int, batch_id: int, served_at: datetime | None = None) -> str:
    served_at = served_at or timezone.now()
    payload = {"n": new_nonce(), "t": served_at.timestamp(), "f": follower_id, "b": batch_id}
    return signing.dumps(payload, salt=FORM_SALT)


def read_form_token(token: str, follower_id: int, batch_id: int, now: datetime) -> FormToken:
    """Check a ballot form's token: signed, for this follower and batch, not expired."""
    if not token:
        raise TokenError("投票表单缺少校验信息，请刷新页面后重新提交。")
    try:
        payload = signing.loads(token, salt=FORM_SALT)
        served_at = datetime.fromtimestamp(float(payload["t"]), tz=UTC)
        parsed = FormToken(str(payload["n"]), served_at, int(payload["f"]), int(payload["b"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError, OverflowError, OSError):
        raise TokenError("投票表单校验失败，请刷新页面后重新提交。") from None
    if (
        not NONCE_PATTERN.fullmatch(parsed.nonce)
        or parsed.follower_id != follower_id
        or parsed.batch_id != batch_id
    ):
        raise TokenError("投票表单校验失败，请刷新页面后重新提交。")
    if now - parsed.served_at > timedelta(seconds=settings.CASEVOTE_FORM_MAX_AGE):
        raise TokenError("页面停留时间过长，表单已过期。请确认所选案例后重新提交。")
    if now < parsed.served_at:
        raise TokenError("投票表单校验失败，请刷新页面后重新提交。")
    return parsed
