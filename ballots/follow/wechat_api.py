"""A small client for the WeChat official-account APIs the follow gate needs.

- `sns/oauth2/access_token`: a web-authorisation `code` → the visitor's `openid`;
- `cgi-bin/stable_token`: the account's access token. Not `cgi-bin/token`, which
  invalidates the previous token at every call and so fights with the magazine's other
  systems (editor tools, menu and message server) on the same AppID; the stable token
  is isolated from those, and in its normal mode every caller gets the same current
  token. It is kept in the shared cache and refreshed by one worker at a time
  (casevote.sharedcache.lock); the others wait briefly for it;
- `cgi-bin/user/info`: whether an openid follows the account, and since when.

Standard library only (urllib). Every request to the site has one deadline for all its
WeChat calls together (`deadline()`, CASEVOTE_WECHAT_DEADLINE); each call also has
CASEVOTE_WECHAT_TIMEOUT. What comes back is sorted, because each needs a different
answer to the visitor:

- `WeChatUnavailable`: an outage (timeout, refused connection, HTTP error, malformed
  JSON, "system busy", or the breaker open: ballots.follow.breaker); try later;
- `CodeRefused`: the authorisation code is invalid, used or expired (40029, 40163):
  start again;
- `ForeignOpenid`: the openid is not of this account (40003): open the page in WeChat;
- `Misconfigured`: the account or its settings are wrong (a wrong AppID or secret,
  a server address not on the IP whitelist, no permission for web authorisation…).

All are `WeChatError`. URLs are never logged: they carry the app secret or the token.
"""

import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from http.client import HTTPException

from django.conf import settings
from django.core.cache import caches

from ballots.follow import breaker
from casevote import sharedcache
from casevote.sharedcache import SharedCacheUnavailable

logger = logging.getLogger(__name__)

# errcodes at an API call that mean "this access token is no longer good": invalid or
# not the latest (40001; another system forced a refresh), expired (42001), 40014.
TOKEN_ERRCODES = frozenset({40001, 42001, 40014})
# errcodes that are WeChat saying no to a code: invalid or expired, already used, missing.
CODE_ERRCODES = frozenset({40029, 40163, 41008})
FOREIGN_OPENID_ERRCODES = frozenset({40003})
# errcodes that only the account's administrator can fix (wrong AppID or secret,
# server IP not whitelisted, secret frozen, no permission for the API or web authorisation).
CONFIG_ERRCODES = frozenset(
    {40001, 40002, 40013, 40125, 40164, 40243, 41002, 41004, 48001, 50001, 50002, 61024}
    | {89503, 89506, 89507}
)
BUSY_ERRCODES = frozenset({-1, 45009, 45011})
# Stop using a cached access token this long before WeChat says it expires.
TOKEN_EXPIRY_MARGIN_SECONDS = 300
# Never keep a token less than this, whatever `expires_in` says.
TOKEN_MIN_SECONDS = 60
MAX_RESPONSE_BYTES = 64 * 1024
STABLE_TOKEN_ENDPOINT = "cgi-bin/stable_token"  # noqa: S105 (a path, not a secret)


class WeChatError(Exception):
    """WeChat's API did not give a usable answer. `errcode` when WeChat sent one."""

    def __init__(self, endpoint: str, reason: str, errcode: int | None = None):
        super().__init__(f"{endpoint}: {reason}")
        self.endpoint = endpoint
        self.reason = reason
        self.errcode = errcode


class WeChatUnavailable(WeChatError):
    """An outage: WeChat did not answer in time, or not sensibly. Try later."""


class SharedStateUnavailable(WeChatUnavailable):
    """The shared cache, which holds the access token and the lock that lets one worker
    fetch it, does not answer: asking WeChat from every worker at once would spend the
    account's daily token quota, so the call is refused (503) instead. Logged once a
    minute by casevote.sharedcache, not per request."""

    def __init__(self, endpoint: str):
        super().__init__(endpoint, "the shared cache (Redis) is unavailable")


@contextmanager
def needs_shared_state(endpoint: str) -> Iterator[None]:
    try:
        yield
    except SharedCacheUnavailable:
        raise SharedStateUnavailable(endpoint) from None


class CodeRefused(WeChatError):
    """The authorisation code is invalid, expired or used: the visitor starts again."""


class ForeignOpenid(WeChatError):
    """The openid is not of this account's AppID."""


class Misconfigured(WeChatError):
    """WeChat refuses the account's credentials or permissions: only an administrator
    can fix it (README: WeChat follow backend)."""


@dataclass(frozen=True)
class Subscription:
    openid: str
    subscribed: bool
    subscribed_at: datetime | None = None
    scene: str = ""


# --- One deadline per request for all its WeChat calls ------------------------------

_deadline: ContextVar[float | None] = ContextVar("wechat_deadline", default=None)


@contextmanager
def deadline(seconds: float | None = None) -> Iterator[None]:
    """All WeChat calls inside share one deadline (CASEVOTE_WECHAT_DEADLINE seconds from
    now); an inner `deadline()` never extends an outer one."""
    seconds = settings.CASEVOTE_WECHAT_DEADLINE if seconds is None else seconds
    end = time.monotonic() + seconds
    outer = _deadline.get()
    marker = _deadline.set(end if outer is None else min(outer, end))
    try:
        yield
    finally:
        _deadline.reset(marker)


def remaining() -> float:
    """Seconds left for WeChat in this request (the per-call timeout at most)."""
    end = _deadline.get()
    timeout = settings.CASEVOTE_WECHAT_TIMEOUT
    return timeout if end is None else min(timeout, end - time.monotonic())


# --- The HTTP call ---------------------------------------------------------------------


def _call(endpoint: str, params: dict[str, str], body: dict | None = None) -> dict:
    """GET (or POST `body` as JSON to) `endpoint` under the API base; the decoded JSON
    object, or a WeChatError saying what kind of failure it is."""
    if breaker.is_open():
        raise WeChatUnavailable(endpoint, "circuit breaker open (recent outages)")
    timeout = remaining()
    if timeout <= 0:
        raise WeChatUnavailable(endpoint, "deadline for this request passed")
    try:
        data = _fetch(endpoint, params, body, timeout)
    except WeChatUnavailable:
        breaker.record_outage()
        raise
    errcode = data.get("errcode", 0)
    if errcode in BUSY_ERRCODES:
        breaker.record_outage()  # "system busy", quota: WeChat cannot serve us now
    if errcode not in (0, None):
        raise classified(endpoint, errcode, str(data.get("errmsg", ""))[:100])
    breaker.record_success()
    return data


def classified(endpoint: str, errcode, errmsg: str) -> WeChatError:
    """The WeChatError for an `errcode` answer at `endpoint`."""
    code = errcode if isinstance(errcode, int) and not isinstance(errcode, bool) else None
    reason = f"errmsg={errmsg}"
    if code in CODE_ERRCODES and endpoint == "sns/oauth2/access_token":
        return CodeRefused(endpoint, reason, code)
    if code in FOREIGN_OPENID_ERRCODES:
        return ForeignOpenid(endpoint, reason, code)
    if code in TOKEN_ERRCODES and endpoint not in (
        STABLE_TOKEN_ENDPOINT,
        "sns/oauth2/access_token",
    ):
        return WeChatUnavailable(endpoint, reason, code)  # the caller replaces the token once
    if code in CONFIG_ERRCODES:
        return Misconfigured(endpoint, reason, code)
    return WeChatUnavailable(endpoint, reason, code)


def _fetch(endpoint: str, params: dict[str, str], body: dict | None, timeout: float) -> dict:
    base = settings.CASEVOTE_WECHAT_API_BASE.rstrip("/")
    url = f"{base}/{endpoint}"
    if params:
        url += f"?{urllib.parse.urlencode(params)}"
    if not url.startswith(("https://", "http://")):
        raise WeChatUnavailable(endpoint, "API base is not an http(s) URL")
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            raw = response.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as error:
        raise WeChatUnavailable(endpoint, f"HTTP {error.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError, HTTPException) as error:
        reason = getattr(error, "reason", error)
        raise WeChatUnavailable(endpoint, f"{type(error).__name__}: {reason}") from None
    if len(raw) > MAX_RESPONSE_BYTES:
        raise WeChatUnavailable(endpoint, "response too large")
    try:
        decoded = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise WeChatUnavailable(endpoint, "malformed JSON") from None
    if not isinstance(decoded, dict):
        raise WeChatUnavailable(endpoint, "JSON is not an object")
    return decoded


def _credentials() -> dict[str, str]:
    return {
        "appid": settings.CASEVOTE_WECHAT_APP_ID,
        "secret": settings.CASEVOTE_WECHAT_APP_SECRET,
    }


# --- The three questions ----------------------------------------------------------------


def openid_for_code(code: str) -> str:
    """Exchange a web-authorisation code (scope snsapi_base) for the visitor's openid."""
    endpoint = "sns/oauth2/access_token"
    data = _call(endpoint, _credentials() | {"code": code, "grant_type": "authorization_code"})
    openid = data.get("openid")
    if not isinstance(openid, str) or not 0 < len(openid) <= 64:
        raise WeChatUnavailable(endpoint, "no openid in the answer")
    return openid


def _token_key() -> str:
    return f"casevote:wechat:access-token:{settings.CASEVOTE_WECHAT_APP_ID}"


def access_token(*, refused: str | None = None) -> str:
    """The account's access token: the shared cache's, unless missing or `refused` (the
    token WeChat just called expired or invalid). One worker at a time asks WeChat; the
    others wait for it within the request's deadline, then use what it stored."""
    shared = caches["shared"]
    with needs_shared_state(STABLE_TOKEN_ENDPOINT):
        token = shared.get(_token_key())
        if token and token != refused:
            return token
        lock = f"wechat-token-{settings.CASEVOTE_WECHAT_APP_ID}"
        with sharedcache.lock(lock, remaining()) as mine:
            token = shared.get(_token_key())
            if token and token != refused:
                return token  # another worker refreshed it while this one waited
            if not mine:
                raise WeChatUnavailable(
                    STABLE_TOKEN_ENDPOINT, "another worker is still fetching the token"
                )
            token = _fetch_stable_token(force=False)
            if token == refused:
                # WeChat still hands out the token it refused: ask for a new one (a
                # forced refresh, which WeChat limits, so only here).
                token = _fetch_stable_token(force=True)
            return token


def _fetch_stable_token(*, force: bool) -> str:
    body = {"grant_type": "client_credential", **_credentials(), "force_refresh": force}
    data = _call(STABLE_TOKEN_ENDPOINT, {}, body)
    token, expires_in = data.get("access_token"), data.get("expires_in")
    if not isinstance(token, str) or not token or not isinstance(expires_in, int):
        raise WeChatUnavailable(STABLE_TOKEN_ENDPOINT, "no access_token in the answer")
    keep = max(expires_in - TOKEN_EXPIRY_MARGIN_SECONDS, TOKEN_MIN_SECONDS)
    caches["shared"].set(_token_key(), token, keep)
    return token


def subscription(openid: str) -> Subscription:
    """Whether `openid` follows the account now (cgi-bin/user/info)."""
    data = call_with_token("cgi-bin/user/info", {"openid": openid, "lang": "zh_CN"})
    return parse_subscription(openid, data)


def call_with_token(endpoint: str, params: dict[str, str]) -> dict:
    """GET `endpoint` with the account's access token. A token WeChat calls invalid or
    expired is replaced once and the call made again; a second refusal is
    WeChatUnavailable."""
    token = access_token()
    try:
        return _call(endpoint, params | {"access_token": token})
    except WeChatUnavailable as error:
        if error.errcode not in TOKEN_ERRCODES:
            raise
        logger.info("WeChat access token refused (errcode %s); fetching a new one", error.errcode)
        return _call(endpoint, params | {"access_token": access_token(refused=token)})


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
