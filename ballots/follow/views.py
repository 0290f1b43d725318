"""Views of the local follow gate: the one-time follow page and its QR image."""

from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_http_methods, require_safe

from ballots import tokens
from ballots.follow import get_backend
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


def local_backend_only(view):
    def wrapper(request, *args, **kwargs):
        if not isinstance(get_backend(), LocalFollowBackend):
            raise Http404("本站未使用本地关注方式")
        return view(request, *args, **kwargs)

    return wrapper


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
        follower = confirm_follow(nonce)
    except FollowLinkSpent:
        return refuse(request, "这个关注链接已经用过了。请重新扫码。", 410)
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
