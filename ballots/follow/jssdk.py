"""Share cards in WeChat: the JS-SDK's `jsapi_ticket` and the `wx.config` signature.

When someone shares a case page from WeChat's browser, WeChat shows the card the page
sets through its JS-SDK (`updateAppMessageShareData`, `updateTimelineShareData`), but
only after `wx.config` with a signature that the server computes from:

- the `jsapi_ticket` (`cgi-bin/ticket/getticket?type=jsapi`, asked with the access
  token). WeChat limits how often it may be fetched, so it is kept in the shared cache
  like the access token (ballots.follow.wechat_api): one worker at a time fetches it
  (casevote.sharedcache.lock), the others wait briefly, then use what it stored;
- the exact URL the browser shows, without `#…`: the public origin
  (CASEVOTE_PUBLIC_ORIGIN, never the request's Host) and the request's full path.

Pages are cached whole (casevote.pagecache), with the config in them. That is right
because the page cache keys a page by its path and never caches a request with a query
string, so the signed URL is the cached page's URL; and a ticket is used only while it
has CASEVOTE_PAGE_CACHE_SECONDS + TICKET_EXPIRY_MARGIN_SECONDS of life left, so a page
served from the cache always carries a ticket that is still valid (7200 s tickets,
pages cached 300 s by default). WeChat's documentation gives the timestamp and nonce no
lifetime of their own: only the ticket's.

WeChat failing (an outage, the breaker open, a refused account) never fails the page:
it simply has no share card (`share_config()` returns None).
"""

import hashlib
import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest

from ballots.checks import WECHAT_BACKEND
from ballots.follow import wechat_api
from ballots.follow.wechat import log_failure
from ballots.follow.wechat_api import WeChatError, WeChatUnavailable
from casevote import sharedcache

TICKET_ENDPOINT = "cgi-bin/ticket/getticket"
# Stop using a cached ticket this long (plus the page cache's seconds) before it expires.
TICKET_EXPIRY_MARGIN_SECONDS = 300
TICKET_MIN_SECONDS = 60
NONCE_BYTES = 12  # 16 URL-safe characters, as in WeChat's example
JS_API_LIST = ("updateAppMessageShareData", "updateTimelineShareData")
# The SDK's host and its documented backup (used when res.wx.qq.com cannot be reached).
SDK_URLS = (
    "https://res.wx.qq.com/open/js/jweixin-1.6.0.js",
    "https://res2.wx.qq.com/open/js/jweixin-1.6.0.js",
)
SDK_ORIGINS = ("https://res.wx.qq.com", "https://res2.wx.qq.com")


@dataclass(frozen=True)
class SignedPage:
    """What `wx.config` needs, signed for `url`."""

    app_id: str
    timestamp: int
    nonce: str
    signature: str
    url: str


def enabled() -> bool:
    """Share cards are set only with the WeChat backend on a known public origin."""
    return settings.CASEVOTE_FOLLOW_BACKEND == WECHAT_BACKEND and bool(
        settings.CASEVOTE_PUBLIC_ORIGIN
    )


def signature(ticket: str, nonce: str, timestamp: int, url: str) -> str:
    """WeChat's JS-SDK signature (附录1 签名算法): sha1 of the four fields sorted by name,
    as `key=value` joined by `&`, raw values (no URL escaping), the URL without `#…`."""
    fields = {
        "jsapi_ticket": ticket,
        "noncestr": nonce,
        "timestamp": str(timestamp),
        "url": url.split("#", 1)[0],
    }
    string1 = "&".join(f"{key}={fields[key]}" for key in sorted(fields))
    return hashlib.sha1(string1.encode()).hexdigest()  # noqa: S324 (WeChat's algorithm)


def page_url(request: HttpRequest) -> str:
    """The URL the browser shows for this request: public origin + path + query."""
    return settings.CASEVOTE_PUBLIC_ORIGIN + request.get_full_path()


def sign(url: str, ticket: str) -> SignedPage:
    nonce = secrets.token_urlsafe(NONCE_BYTES)
    timestamp = int(time.time())
    return SignedPage(
        settings.CASEVOTE_WECHAT_APP_ID,
        timestamp,
        nonce,
        signature(ticket, nonce, timestamp, url),
        url,
    )


def share_config(request: HttpRequest) -> SignedPage | None:
    """The signed config for this page, or None when WeChat cannot give a ticket now
    (logged; the page goes without a share card)."""
    try:
        with wechat_api.deadline():
            ticket = jsapi_ticket()
    except WeChatError as error:
        log_failure(error)
        return None
    return sign(page_url(request), ticket)


def _ticket_key() -> str:
    return f"casevote:wechat:jsapi-ticket:{settings.CASEVOTE_WECHAT_APP_ID}"


def jsapi_ticket() -> str:
    """The account's jsapi_ticket: the shared cache's, or fetched by one worker while the
    others wait for it within the request's deadline."""
    shared = caches["shared"]
    with wechat_api.needs_shared_state(TICKET_ENDPOINT):
        if ticket := shared.get(_ticket_key()):
            return ticket
        lock = f"wechat-ticket-{settings.CASEVOTE_WECHAT_APP_ID}"
        with sharedcache.lock(lock, wechat_api.remaining()) as mine:
            if ticket := shared.get(_ticket_key()):
                return ticket  # another worker fetched it while this one waited
            if not mine:
                raise WeChatUnavailable(
                    TICKET_ENDPOINT, "another worker is still fetching the ticket"
                )
            return _fetch_ticket()


def _fetch_ticket() -> str:
    data = wechat_api.call_with_token(TICKET_ENDPOINT, {"type": "jsapi"})
    ticket, expires_in = data.get("ticket"), data.get("expires_in")
    if not isinstance(ticket, str) or not ticket or not isinstance(expires_in, int):
        raise WeChatUnavailable(TICKET_ENDPOINT, "no ticket in the answer")
    margin = TICKET_EXPIRY_MARGIN_SECONDS + settings.CASEVOTE_PAGE_CACHE_SECONDS
    caches["shared"].set(_ticket_key(), ticket, max(expires_in - margin, TICKET_MIN_SECONDS))
    return ticket
