"""The WeChat follow gate: the magazine's official account, through web authorisation.

Inside WeChat's browser, a visitor without an identity is sent to WeChat's
authorise page (scope `snsapi_base`: silent, no consent screen) with a signed,
single-use `state`, which is also put in a short-lived cookie of this browser (with
the page to come back to). WeChat sends them back to `/wechat/callback/` on the site's
public origin (CASEVOTE_PUBLIC_ORIGIN, never the request's Host) with a `code`; a
callback whose state is not this browser's is refused (login CSRF, RFC 6749 §10.12:
an attacker's unused callback URL must not sign someone else in as the attacker).
The server exchanges the code for the `openid`, then asks `cgi-bin/user/info`
whether that openid follows the account. A follower is keyed by openid and
remembered in the same signed cookie as the local gate's.

All the WeChat calls of one request share one deadline (wechat_api.deadline).

When a ballot is cast the subscription is asked again (a positive answer is reused
for CASEVOTE_WECHAT_SUBSCRIPTION_CACHE_SECONDS), so an unfollow after the gate
stops voting. WeChat failing to answer is never taken as "following".
"""

import hashlib
import json
import logging
from contextlib import suppress
from datetime import datetime
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.core.cache import caches
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from ballots import identity, network, tokens
from ballots.errors import FollowCheckUnavailable
from ballots.follow import budget, next_page, wechat_api
from ballots.follow.base import FollowBackend
from ballots.follow.events import Event
from ballots.follow.wechat_api import Misconfigured, Subscription, WeChatError
from ballots.models import Follower, FollowEvent, UsedFollowToken
from ballots.retention import PSEUDONYM_PREFIX
from casevote.errors import Refusal
from casevote.sharedcache import SharedCacheUnavailable

logger = logging.getLogger(__name__)

WECHAT_UA_MARKER = "MicroMessenger"
UNAVAILABLE_MESSAGE = "微信服务暂时不可用，请稍后再试。"
CODE_PREFIX = "wc"
FLOW_COOKIE = "cv_wxflow"
FLOW_SALT = "casevote.wechat-flow"
FLOW_PATH = "/wechat/"
FLOWS_KEPT = 3
CONFIG_LOG_SECONDS = 3600  # a configuration error is logged loudly once an hour


class WeChatFollowBackend(FollowBackend):
    name = "wechat"

    def gate(self, request: HttpRequest) -> HttpResponse:
        """In WeChat: off to the authorise page. Elsewhere: "open this in WeChat"."""
        if not in_wechat(request):
            return render(request, "ballots/wechat_open.html", qr_context())
        state = tokens.make_wechat_state()
        response = redirect(authorize_url(request, state))
        bind_flow(response, request, state, next_page.here(request))
        return response

    def still_following(self, follower: Follower) -> bool:
        if follower.key.startswith(PSEUDONYM_PREFIX):
            return False  # anonymised: the openid is gone
        if _remembered_following(follower.key):
            return True
        try:
            with wechat_api.deadline():
                answer = wechat_api.subscription(follower.key)
        except WeChatError as error:
            log_failure(error)
            raise FollowCheckUnavailable(
                UNAVAILABLE_MESSAGE + "这次投票没有记录，您的选择已保留。"
            ) from None
        record_subscription(answer, timezone.now())
        return answer.subscribed


def in_wechat(request: HttpRequest) -> bool:
    return WECHAT_UA_MARKER in request.META.get("HTTP_USER_AGENT", "")


def callback_url(request: HttpRequest) -> str:
    """The callback on the site's public origin: its host is the 网页授权域名 WeChat
    checks. Only a site without CASEVOTE_PUBLIC_ORIGIN (development; `check --deploy`
    reports it) falls back to the request's own host."""
    origin = settings.CASEVOTE_PUBLIC_ORIGIN or f"{request.scheme}://{request.get_host()}"
    return origin + reverse("ballots:wechat_callback")


def authorize_url(request: HttpRequest, state: str) -> str:
    """WeChat's authorise page for this site (parameter order is WeChat's)."""
    params = {
        "appid": settings.CASEVOTE_WECHAT_APP_ID,
        "redirect_uri": callback_url(request),
        "response_type": "code",
        "scope": "snsapi_base",
        "state": state,
    }
    return f"{settings.CASEVOTE_WECHAT_AUTHORIZE_URL}?{urlencode(params)}#wechat_redirect"


def bind_flow(response: HttpResponse, request: HttpRequest, state: str, next_url: str) -> None:
    """Remember in this browser which states it was sent off with, each with the page it
    came from (the last FLOWS_KEPT: a visitor may start in two tabs).

    Only the callback (under /wechat/) receives the cookie; SameSite=Lax still sends it
    on the top-level redirect back from WeChat's authorise page."""
    flows = [[state, next_url]] + [list(flow) for flow in read_flows(request).items()]
    value = signing.dumps(flows[:FLOWS_KEPT], salt=FLOW_SALT, compress=True)
    response.set_cookie(
        FLOW_COOKIE,
        value,
        max_age=settings.CASEVOTE_FOLLOW_LINK_MAX_AGE,
        path=FLOW_PATH,
        httponly=True,
        samesite="Lax",
        secure=settings.CASEVOTE_SECURE_COOKIES,
    )


def read_flows(request: HttpRequest) -> dict[str, str]:
    """The states this browser was sent off with, each with the page to return to."""
    try:
        flows = signing.loads(
            request.COOKIES.get(FLOW_COOKIE, ""),
            salt=FLOW_SALT,
            max_age=settings.CASEVOTE_FOLLOW_LINK_MAX_AGE,
        )
    except (signing.BadSignature, json.JSONDecodeError):
        return {}
    if not isinstance(flows, list):
        return {}
    return {
        str(flow[0]): next_page.safe_next(str(flow[1]))
        for flow in flows
        if isinstance(flow, list) and len(flow) == 2
    }


def read_flow(request: HttpRequest, state: str) -> tuple[str, str]:
    """The state as this browser was sent off with it ("" if it was not), and the page
    to return to."""
    for bound, next_url in read_flows(request).items():
        if constant_time_compare(bound, state):
            return bound, next_url
    return "", next_page.safe_next(None)


def qr_context() -> dict:
    configured = bool(settings.CASEVOTE_WECHAT_QR_IMAGE or settings.CASEVOTE_WECHAT_QR_URL)
    return {"account_qr": configured}


CONFIG_HINTS = {
    40001: "CASEVOTE_WECHAT_APP_SECRET is not this account's AppSecret",
    40125: "CASEVOTE_WECHAT_APP_SECRET is not this account's AppSecret",
    40013: "CASEVOTE_WECHAT_APP_ID is not the account's AppID",
    40164: "this server's address is not on the account's IP whitelist",
    40243: "the account's AppSecret is frozen",
    48001: "the account has no permission for this API: web authorisation needs a "
    "verified service account (认证服务号)",
}


def log_failure(error: WeChatError) -> None:
    """An outage is a warning; a configuration error is an ERROR, once an hour per
    errcode (every visitor meets it until an administrator fixes it). A shared cache
    that does not answer is said once a minute by casevote.sharedcache."""
    if isinstance(error, wechat_api.SharedStateUnavailable):
        return
    if not isinstance(error, Misconfigured):
        logger.warning(
            "WeChat API %s: endpoint=%s errcode=%s reason=%s",
            "unavailable" if isinstance(error, wechat_api.WeChatUnavailable) else "refused",
            error.endpoint,
            error.errcode,
            error.reason,
        )
        return
    try:
        first = caches["shared"].add(
            f"casevote:wechat:config-logged:{error.errcode}", 1, CONFIG_LOG_SECONDS
        )
    except SharedCacheUnavailable:
        first = True
    logger.log(
        logging.ERROR if first else logging.INFO,
        "WeChat refuses the account's configuration: endpoint=%s errcode=%s reason=%s (%s; "
        "README: WeChat follow backend)",
        error.endpoint,
        error.errcode,
        error.reason,
        CONFIG_HINTS.get(error.errcode, "see WeChat's global error codes"),
    )


def _following_key(openid: str) -> str:
    return f"casevote:wechat:following:{hashlib.sha256(openid.encode()).hexdigest()[:32]}"


def _remembered_following(openid: str) -> bool:
    """A recent "following" answer, if the shared cache has one (and answers)."""
    try:
        return bool(caches["shared"].get(_following_key(openid)))
    except SharedCacheUnavailable:
        return False


def _forget_following(openid: str) -> None:
    """Best effort: while the shared cache is away, a remembered answer lapses by itself
    within CASEVOTE_WECHAT_SUBSCRIPTION_CACHE_SECONDS."""
    with suppress(SharedCacheUnavailable):
        caches["shared"].delete(_following_key(openid))


def record_subscription(answer: Subscription, now: datetime) -> None:
    """Remember a positive answer for a few minutes; note an unfollow on the follower.

    Only "following" is cached: someone who re-follows after being refused can vote
    at once, while an unfollow is noticed within the cache period.
    """
    followers = Follower.objects.filter(backend=WeChatFollowBackend.name, key=answer.openid)
    if not answer.subscribed:
        _forget_following(answer.openid)
        followers.update(unfollowed_at=now)
        return
    with suppress(SharedCacheUnavailable):
        caches["shared"].set(
            _following_key(answer.openid),
            True,
            settings.CASEVOTE_WECHAT_SUBSCRIPTION_CACHE_SECONDS,
        )
    if answer.subscribed_at is not None:
        followers.exclude(subscribed_at=answer.subscribed_at).update(
            subscribed_at=answer.subscribed_at
        )


# A subscribe pushed for a QR code with a parameter carries EventKey "qrscene_<scene>".
QR_SCENE_PREFIX = "qrscene_"


def record_event(event: Event, now: datetime) -> bool:
    """Store a pushed follow event and bring the openid's follower up to date.

    False for a retry already stored (the unique constraint says so, whichever worker
    got the first one): nothing else changes then. Times only move one way, so events
    may arrive in any order: a later follow or unfollow wins, an older one never
    overwrites a newer one, and `followed_at` stays the first follow.
    """
    with transaction.atomic():
        try:
            with transaction.atomic():
                FollowEvent.objects.create(
                    openid=event.openid,
                    kind=event.kind,
                    created_at=event.created_at,
                    event_key=event.event_key,
                    received_at=now,
                )
        except IntegrityError:
            return False
        if event.openid.startswith(PSEUDONYM_PREFIX):
            return True  # not an openid WeChat would send; never matched to a follower
        if event.kind == FollowEvent.Kind.SUBSCRIBE:
            record_follow(event)
        elif event.kind == FollowEvent.Kind.UNSUBSCRIBE:
            record_unfollow(event.openid, event.created_at)
    return True


def wechat_followers(openid: str):
    """The WeChat follower with this openid; an anonymised follower never matches."""
    return Follower.objects.filter(backend=WeChatFollowBackend.name, key=openid).exclude(
        key__startswith=PSEUDONYM_PREFIX
    )


def record_follow(event: Event) -> None:
    """A follow, also of someone who has not voted yet (their follower is created now,
    with any unfollow already pushed out of order)."""
    at = event.created_at
    follower, created = Follower.objects.get_or_create(
        backend=WeChatFollowBackend.name,
        key=event.openid,
        defaults={
            "followed_at": at,
            "subscribed_at": at,
            "scene": event.event_key.removeprefix(QR_SCENE_PREFIX)[:64],
        },
    )
    if created:
        unfollows = FollowEvent.objects.filter(
            openid=event.openid, kind=FollowEvent.Kind.UNSUBSCRIBE
        ).aggregate(latest=Max("created_at"))
        if unfollows["latest"] is not None:
            record_unfollow(event.openid, unfollows["latest"])
        return
    followers = wechat_followers(event.openid)
    followers.filter(followed_at__gt=at).update(followed_at=at)
    followers.filter(Q(subscribed_at__isnull=True) | Q(subscribed_at__lt=at)).update(
        subscribed_at=at
    )


def record_unfollow(openid: str, at: datetime) -> None:
    _forget_following(openid)
    wechat_followers(openid).filter(Q(unfollowed_at__isnull=True) | Q(unfollowed_at__lt=at)).update(
        unfollowed_at=at
    )


class CallbackRefused(Refusal):
    """A callback that is tampered with, expired, replayed or not this browser's;
    `message` is for people."""


class NotSubscribed(Exception):
    pass


def code_key(code: str) -> str:
    """How a spent authorisation code is stored: a hash (it is a credential), 32 chars."""
    return CODE_PREFIX + hashlib.sha256(code.encode()).hexdigest()[:30]


NOT_THIS_BROWSER = (
    "这个登录链接不是从您的浏览器发起的，为了您的安全，本站没有使用它。"
    "请点击下方按钮，从投票页面重新开始。"
)


def completed_before(state: str, follower: Follower | None) -> bool:
    """Whether this browser's follower already came through with `state` (a reload of
    a successful callback: it lands on the ballot, not on "already used")."""
    match = tokens.WECHAT_STATE_PATTERN.match(state or "")
    if follower is None or not match:
        return False
    return UsedFollowToken.objects.filter(nonce=match.group(1), follower=follower).exists()


def spend(state: str, code: str, now: datetime, bound_state: str = "") -> list[str]:
    """Mark the state and the code used, before asking WeChat: a replay fails here,
    in the database (primary keys), whichever worker receives it. A state that is not
    the one this browser was sent off with (`bound_state`) is refused unspent."""
    try:
        nonce = tokens.read_wechat_state(state, now)
    except tokens.TokenError as error:
        raise CallbackRefused(error.message) from None
    if not bound_state or not constant_time_compare(state, bound_state):
        raise CallbackRefused(NOT_THIS_BROWSER, 403)
    if not code or len(code) > 128:
        raise CallbackRefused("登录信息无效。请重新打开投票页面。")
    spent = [nonce, code_key(code)]
    try:
        with transaction.atomic():
            for key in spent:
                UsedFollowToken.objects.create(nonce=key, used_at=now)
    except IntegrityError:
        raise CallbackRefused("这个登录链接已经用过了。请重新打开投票页面。", 410) from None
    return spent


def complete_authorisation(
    state: str, code: str, address: network.IPAddress | None = None, bound_state: str = ""
) -> Follower:
    """The follower a WeChat callback proves, or CallbackRefused / NotSubscribed /
    WeChatError. Only a subscribed openid creates (or finds) a Follower; a new
    one counts against its address's hourly budget (TooManyFollows)."""
    now = timezone.now()
    spent = spend(state, code, now, bound_state)
    with wechat_api.deadline():
        openid = wechat_api.openid_for_code(code)
        answer = wechat_api.subscription(openid)
    record_subscription(answer, now)
    if not answer.subscribed:
        raise NotSubscribed
    followed_at = answer.subscribed_at or now
    follower = wechat_followers(openid).first()
    if follower is None:
        follower = new_follower(openid, answer, followed_at, address, now)
    UsedFollowToken.objects.filter(nonce__in=spent).update(follower=follower)
    return follower


def new_follower(
    openid: str,
    answer: Subscription,
    followed_at: datetime,
    address: network.IPAddress | None,
    now: datetime,
) -> Follower:
    """Create the follower of a proven openid (or take the one a concurrent request or
    event just created), within its address's budget of new followers."""
    try:
        with transaction.atomic():
            return Follower.objects.create(
                backend=WeChatFollowBackend.name,
                key=openid,
                followed_at=followed_at,
                subscribed_at=followed_at,
                scene=answer.scene,
                origin_network=budget.admit(address, now),
            )
    except IntegrityError:
        return Follower.objects.get(backend=WeChatFollowBackend.name, key=openid)


def remember(response: HttpResponse, follower: Follower) -> HttpResponse:
    identity.remember_follower(response, follower.pk)
    return response
