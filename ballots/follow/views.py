"""Views of the follow gates: the local gate's one-time follow page and its QR image;
the WeChat gate's authorisation callback and the account's QR code."""

import mimetypes
from functools import lru_cache, wraps
from pathlib import Path

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from ballots import network, tokens
from ballots.follow import budget, events, get_backend, wechat
from ballots.follow.local import (
    FollowLinkSpent,
    LocalFollowBackend,
    confirm_follow,
    follow_url,
    remember,
    render_gate,
)
from ballots.follow.wechat_api import WeChatUnavailable
from ballots.models import UsedFollowToken
from ballots.qr import qr_png


def backend_only(backend_class: type, refusal: str):
    """A view of one gate: a 404 while the site uses another (CASEVOTE_FOLLOW_BACKEND)."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not isinstance(get_backend(), backend_class):
                raise Http404(refusal)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


local_backend_only = backend_only(LocalFollowBackend, "本站未使用本地关注方式")
wechat_backend_only = backend_only(wechat.WeChatFollowBackend, "本站未使用微信关注方式")


def refuse(request, message: str, status: int) -> HttpResponse:
    return render_gate(request, "ballots/follow_invalid.html", status=status, message=message)


@require_http_methods(["GET", "HEAD", "POST"])
@local_backend_only
@cache_control(private=True, no_store=True)
def follow(request, token: str):
    try:
        nonce = tokens.read_follow_token(token)
    except tokens.TokenError as error:
        status = 410 if "过期" in error.message else 400
        return refuse(request, error.message, status)
    if request.method != "POST":
        if UsedFollowToken.objects.filter(nonce=nonce).exists():
            return refuse(request, "这个关注链接已经用过了。请重新扫码。", 410)
        return render(request, "ballots/follow.html", {"token": token})
    try:
        follower = confirm_follow(nonce, network.client_address(request.META))
    except FollowLinkSpent:
        return refuse(request, "这个关注链接已经用过了。请重新扫码。", 410)
    except budget.TooManyFollows as refusal:
        return refuse(request, refusal.message, refusal.status_code)
    return remember(redirect(reverse("ballots:vote")), follower)


@require_safe
@local_backend_only
@cache_control(private=True, max_age=600)
def follow_qr(request, token: str):
    """The QR code of a follow link: the absolute URL of /follow/<token>/."""
    try:
        tokens.read_follow_token(token)
    except tokens.TokenError:
        raise Http404("二维码已过期") from None
    return HttpResponse(qr_png(follow_url(request, token)), content_type="image/png")


@require_safe
@wechat_backend_only
@cache_control(private=True, no_store=True)
def wechat_callback(request):
    """Where WeChat's authorise page sends the visitor back, with `code` and `state`."""
    try:
        follower = wechat.complete_authorisation(
            request.GET.get("state", ""),
            request.GET.get("code", ""),
            network.client_address(request.META),
        )
    except (wechat.CallbackRefused, budget.TooManyFollows) as refusal:
        context = {"message": refusal.message}
        return render(request, "ballots/wechat_refused.html", context, status=refusal.status_code)
    except wechat.NotSubscribed:
        return render(request, "ballots/wechat_gate.html", wechat.qr_context())
    except WeChatUnavailable as error:
        wechat.log_unavailable(error)
        return render(request, "ballots/wechat_unavailable.html", status=503)
    return wechat.remember(redirect(reverse("ballots:vote")), follower)


def text(body: str, status: int = 200) -> HttpResponse:
    return HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")


@csrf_exempt  # WeChat's server cannot send a CSRF token; its signature is checked instead
@require_http_methods(["GET", "POST"])
@wechat_backend_only
@never_cache
def wechat_events(request):
    """The official account's 服务器配置 URL: GET is WeChat's verification (answer
    `echostr`), POST a pushed message or event (answer `success` at once; WeChat is
    never called from here). See ballots.follow.events."""
    now = timezone.now()
    try:
        config = events.current_config()
        if request.method == "GET":
            return text(events.echo(config, request.GET, now))
        event = events.received_event(config, request.GET, request.body, now)
    except events.EventRefused as refusal:
        return text(refusal.message, refusal.status_code)
    if event is not None:
        wechat.record_event(event, now)
    return text("success")


@lru_cache(maxsize=4)
def _qr_for(url: str) -> bytes:
    return qr_png(url)


@require_safe
@wechat_backend_only
@cache_control(public=True, max_age=3600)
def wechat_qr(request):
    """The official account's QR code: the committee's image file, or its follow link drawn."""
    if settings.CASEVOTE_WECHAT_QR_IMAGE:
        path = Path(settings.CASEVOTE_WECHAT_QR_IMAGE)
        content_type, _ = mimetypes.guess_type(path.name)
        if content_type not in ("image/png", "image/jpeg", "image/gif", "image/webp"):
            raise Http404("二维码图片格式不支持")
        try:
            return HttpResponse(path.read_bytes(), content_type=content_type)
        except OSError:
            raise Http404("没有找到二维码图片") from None
    if settings.CASEVOTE_WECHAT_QR_URL:
        return HttpResponse(_qr_for(settings.CASEVOTE_WECHAT_QR_URL), content_type="image/png")
    raise Http404("没有配置公众号二维码")
