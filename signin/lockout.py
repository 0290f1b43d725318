"""What django-axes needs from the site: the client's address as the site trusts it, and
the page a locked-out member sees."""

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ballots.network import client_address


def client_ip(request: HttpRequest) -> str | None:
    """`REMOTE_ADDR`, or behind our own proxies (`CASEVOTE_TRUSTED_PROXIES`) the address
    they forwarded: the same address the vote's budgets count, so a client cannot escape
    a lockout by sending its own `X-Forwarded-For`."""
    address = client_address(request.META)
    return None if address is None else str(address)


def lockout_minutes() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)


def locked_out(request: HttpRequest, response=None, credentials=None) -> HttpResponse:
    """HTTP 429 in Chinese: locked out, for how long, and whom to ask."""
    context = {
        **admin.site.each_context(request),
        "title": "登录已暂时锁定",
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "minutes": lockout_minutes(),
    }
    page = render(request, "admin/signin/locked_out.html", context, status=429)
    page["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return page
