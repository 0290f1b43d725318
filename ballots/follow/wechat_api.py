"""A small client for the three WeChat official-account APIs the follow gate needs.

- `sns/oauth2/access_token`: a web-authorisation `code` → the visitor's `openid`;
- `cgi-bin/token`: the account's access token (kept in the shared cache, so every
  worker uses one token, until shortly before it expires);
- `cgi-bin/user/info`: whether an openid follows the account, and since when.

Standard library only (urllib with a timeout). Anything that is not a clean answer
— a timeout, a refused connection, an HTTP error, malformed JSON, an `errcode` —
raises `WeChatUnavailable`; callers never guess. URLs are never logged: they carry
the app secret or the access token.
"""

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from http.client import HTTPException

from django.conf import settings
from django.core.cache import caches

logger = logging.getLogger(__name__)

# errcodes that mean "this access token is no longer good": invalid, expired, not the latest.
TOKEN_ERRCODES = frozenset({40001, 42001, 40014})
# Stop using a cached access token this long before WeChat says it expires.
TOKEN_EXPIRY_MARGIN_SECONDS = 300
# Never keep a token less than this, whatever `expires_in` says.
TOKEN_MIN_SECONDS = 60
MAX_RESPONSE_BYTES = 64 * 1024


class WeChatUnavailable(Exception):
    """WeChat's API did not give a usable answer. `errcode` when WeChat sent one."""

    def __init__(self, endpoint: str, reason: str, errcode: int | None = None):
        super().__init__(f"{endpoint}: {reason}")
        self.endpoint = endpoint
        self.reason = reason
        self.errcode = errcode


@dataclass(frozen=True)
class Subscription:
    openid: str
    subscribed: bool
    subscribed_at: datetime | None = None
    scene: str = ""


def _get_json(endpoint: str, params: dict[str, str]) -> dict:
    """GET `endpoint` under the API base; the decoded JSON object, or WeChatUnavailable."""
    base = settings.CASEVOTE_WECHAT_API_BASE.rstrip("/")
    url = f"{base}/{endpoint}?{urllib.parse.urlencode(params)}"
    if not url.startswith(("https://", "http://")):
        raise WeChatUnavailable(endpoint, "API base is not an http(s) URL")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(  # noqa: S310 (scheme checked above)
            request, timeout=settings.CASEVOTE_WECHAT_TIMEOUT
        ) as response:
            body = response.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as error:
        raise WeChatUnavailable(endpoint, f"HTTP {error.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError, HTTPException) as error:
        reason = getattr(error, "reason", error)
        raise WeChatUnavailable(endpoint, f"{type(error).__name__}: {reason}") from None
    if len(body) > MAX_RESPONSE_BYTES:
        raise WeChatUnavailable(endpoint, "response too large")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise WeChatUnavailable(endpoint, "malformed JSON") from None
    if not isinstance(data, dict):
        raise WeChatUnavailable(endpoint, "JSON is not an object")
    errcode = data.get("errcode", 0)
    if errcode not in (0, None):
        code = errcode if isinstance(errcode, int) else None
        raise WeChatUnavailable(endpoint, f"errmsg={str(data.get('errmsg', ''))[:100]}", code)
    return data


def _credentials() -> dict[str, str]:
    return {
        "appid": settings.CASEVOTE_WECHAT_APP_ID,
        "secret": settings.CASEVOTE_WECHAT_APP_SECRET,
    }


def openid_for_code(code: str) -> str:
    """Exchange a web-authorisation code (scope snsapi_base) for the visitor's openid."""
    endpoint = "sns/oauth2/access_token"
    data = _get_json(endpoint, _credentials() | {"code": code, "grant_type": "authorization_code"})
    openid = data.get("openid")
    if not isinstance(openid, str) or not 0 < len(openid) <= 64:
        raise WeChatUnavailable(endpoint, "no openid in the answer")
    return openid


def _token_key() -> str:
    return f"casevote:wechat:access-token:{settings.CASEVOTE_WECHAT_APP_ID}"


def access_token(*, refresh: bool = False) -> str:
    """The account's access token, from the shared cache unless missing or `refresh`."""
    shared = caches["shared"]
    if not refresh:
        token = shared.get(_token_key())
        if token:
            return token
    endpoint = "cgi-bin/token"
    data = _get_json(endpoint, _credentials() | {"grant_type": "client_credential"})
    token, expires_in = data.get("access_token"), data.get("expires_in")
    if not isinstance(token, str) or not token or not isinstance(expires_in, int):
        raise WeChatUnavailable(endpoint, "no access_token in the answer")
    keep = max(expires_in - TOKEN_EXPIRY_MARGIN_SECONDS, TOKEN_MIN_SECONDS)
    shared.set(_token_key(), token, keep)
    return token


def subscription(openid: str) -> Subscription:
    """Whether `openid` follows the account now (cgi-bin/user/info).

    An access token WeChat calls invalid or expired is replaced once and the
    question asked again; a second failure is WeChatUnavailable.
    """
    endpoint = "cgi-bin/user/info"
    params = {"openid": openid, "lang": "zh_CN"}
    try:
        data = _get_json(endpoint, params | {"access_token": access_token()})
    except WeChatUnavailable as error:
        if error.errcode not in TOKEN_ERRCODES:
            raise
        logger.info("WeChat access token refused (errcode %s); fetching a new one", error.errcode)
        data = _get_json(endpoint, params | {"access_token": access_token(refresh=True)})
    return parse_subscription(openid, data)


def parse_subscription(openid: str, data: dict) -> Subscription:
    subscribe = data.get("subscribe")
    if subscribe not in (0, 1) or isinstance(subscribe, bool):
        raise WeChatUnavailable("cgi-bin/user/info", "no subscribe field in the answer")
    if subscribe == 0:
        return Subscription(openid, subscribed=False)
    subscribe_time = data.get("subscribe_time")
    subscribed_at = None
    if isinstance(subscribe_time, int) and subscribe_time > 0:
        subscribed_at = datetime.fromtimestamp(subscribe_time, tz=UTC)
    scene = data.get("qr_scene_str") or data.get("qr_scene") or ""
    return Subscription(openid, True, subscribed_at, str(scene)[:64])
