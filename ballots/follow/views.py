"""Views of the follow gates: the local gate's one-time follow page and its QR image;
the WeChat gate's authorisation callback and the account's QR code."""

import mimetypes
from functools import lru_cache, wraps
from pathlib import Path

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from ballots import network, tokens
from ballots.follow import budget, events, get_backend, next_page, wechat, wechat_api
from ballots.follow.local import (
    FollowLinkSpent,
    LocalFollowBackend,
    confirm_follow,
    follow_url,
    remember,
    render_gate,
)
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


def refuse(request, message: str, status: int, next_url: str = "") -> HttpResponse:
    return render_gate(
        request, "ballots/follow_invalid.html", status=status, next_url=next_url, message=message
    )


@require_http_methods(["GET", "HEAD", "POST"])
@local_backend_only
@cache_control(private=True, no_store=True)
def follow(request, token: str):
    next_url = next_page.safe_next(request.POST.get("next") or request.GET.get("next"))
    try:
        nonce = tokens.read_follow_token(token)
    except tokens.TokenError as error:
        status = 410 if "过期" in error.message else 400
        return refuse(request, error.message, status, next_url)
    if request.method != "POST":
        if UsedFollowToken.objects.filter(nonce=nonce).exists():
            return refuse(request, "这个关注链接已经用过了。请重新扫码。", 410, next_url)
        return render(request, "ballots/follow.html", {"token": token, "next_url": next_url})
    try:
        follower = confirm_follow(nonce, network.client_address(request.META))
    except FollowLinkSpent:
        return refuse(request, "这个关注链接已经用过了。请重新扫码。", 410, next_url)
    except budget.TooManyFollows as refusal:
        return refuse(request, refusal.message, refusal.status_code, next_url)
    return remember(redirect(next_url), follower)


@require_safe
@local_backend_only
@cache_control(private=True, max_age=600)
def follow_qr(request, token: str):
    """The QR code of a follow link: the absolute URL of /follow/<token>/."""
    try:
        tokens.read_follow_token(token)
    except tokens.TokenError:
        raise Http404("二维码已过期") from None
    next_url = next_page.safe_next(request.GET.get("next"))
    return HttpResponse(qr_png(follow_url(request, token, next_url)), content_type="image/png")


WECHAT_REFUSALS = {
    wechat_api.CodeRefused: (
        "微信的登录码已失效（可能已用过，或超过了 5 分钟）。请点击下方按钮重新开始。",
        400,
    ),
    wechat_api.ForeignOpenid: (
        "微信没有确认您是“{account}”公众号的用户。请在微信中打开“{account}”公众号，"
        "从公众号里的投票链接重新进入。",
        403,
    ),
}


@require_safe
@wechat_backend_only
@cache_control(private=True, no_store=True)
def wechat_callback(request):
    """Where WeChat's authorise page sends the visitor back, with `code` and `state`."""
    state = request.GET.get("state", "")
    bound_state, next_url = wechat.read_flow(request, state)
    if wechat.completed_before(state, get_backend().get_follower(request)):
        return redirect(next_url)  # a reload of a callback that already succeeded
    try:
        follower = wechat.complete_authorisation(
            state,
            request.GET.get("code", ""),
            network.client_address(request.META),
            bound_state,
        )
    except (wechat.CallbackRefused, budget.TooManyFollows) as refusal:
        return wechat_refused(request, refusal.message, refusal.status_code, next_url)
    except wechat.NotSubscribed:
        context = wechat.qr_context() | {"next_url": next_url}
        return render(request, "ballots/wechat_gate.html", context)
    except wechat_api.WeChatError as error:
        wechat.log_failure(error)
        return wechat_failure(request, error, next_url)
    return wechat.remember(redirect(next_url), follower)


def wechat_failure(request, error: wechat_api.WeChatError, next_url: str) -> HttpResponse:
    """What the visitor is told when WeChat says no: start again or open it in WeChat
    (their flow), the site is not set up (500: "try later" would not help), or WeChat
    is unavailable (503, the only outage)."""
    if type(error) in WECHAT_REFUSALS:
        message, status = WECHAT_REFUSALS[type(error)]
        message = message.format(account=settings.CASEVOTE_OFFICIAL_ACCOUNT_NAME)
        return wechat_refused(request, message, status, next_url)
    if isinstance(error, wechat_api.Misconfigured):
        return render(request, "ballots/wechat_misconfigured.html", status=500)
    return render(request, "ballots/wechat_unavailable.html", status=503)


def wechat_refused(request, message: str, status: int, next_url: str) -> HttpResponse:
    context = {"message": message, "next_url": next_url}
    return render(request, "ballots/wechat_refused.html", context, status=status)


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


@require_safe
@wechat_backend_only
@cache_control(public=True, max_age=3600)
def wechat_verify_file(request, name: str):
    """The account's MP_verify_*.txt (CASEVOTE_WECHAT_VERIFY_FILE), at the root of the
    site, as WeChat asks when the 网页授权域名 is set; any other name is a 404."""
    path = Path(settings.CASEVOTE_WECHAT_VERIFY_FILE or ".")
    if not settings.CASEVOTE_WECHAT_VERIFY_FILE or path.name != name:
        raise Http404("没有这个文件")
    try:
        return HttpResponse(path.read_bytes(), content_type="text/plain")
    except OSError:
        raise Http404("没有这个文件") from None
