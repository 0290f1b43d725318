"""The local follow gate: a QR code links to a one-time follow page on this site.

A demonstration of the WeChat official account's gate: scanning the code (or tapping
the link on the phone) and confirming creates the Follower and remembers it in a signed
cookie. Anyone may declare they follow, so with DEBUG off it runs only on a site that
says it is a demonstration (CASEVOTE_DEMO_GATE; a system-check error otherwise), and
every page of it says so.
"""

import secrets
from urllib.parse import urlencode

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from ballots import identity, network, tokens
from ballots.follow import budget, next_page
from ballots.follow.base import FollowBackend
from ballots.models import Follower, UsedFollowToken


class LocalFollowBackend(FollowBackend):
    name = "local"

    def gate(self, request: HttpRequest) -> HttpResponse:
        return render_gate(request, "ballots/gate.html", next_url=next_page.here(request))

    def still_following(self, follower: Follower) -> bool:
        return True


def follow_url(request: HttpRequest, token: str, next_url: str = "") -> str:
    """The absolute follow link of a token (with the page to return to, unless it is the
    default): what its QR code encodes."""
    path = reverse("ballots:follow", args=[token])
    if next_url and next_url != next_page.safe_next(None):
        path += "?" + urlencode({"next": next_url})
    return request.build_absolute_uri(path)


def qr_path(token: str, next_url: str) -> str:
    path = reverse("ballots:follow_qr", args=[token])
    if next_url != next_page.safe_next(None):
        path += "?" + urlencode({"next": next_url})
    return path


def render_gate(
    request: HttpRequest, template: str, status: int = 200, next_url: str = "", **context
) -> HttpResponse:
    """A page with a fresh one-time follow link and its QR code."""
    token = tokens.make_follow_token()
    next_url = next_page.safe_next(next_url)
    context |= {
        "follow_token": token,
        "follow_link": follow_url(request, token, next_url),
        "follow_qr": qr_path(token, next_url),
        "next_url": next_url,
    }
    return render(request, template, context, status=status)


class FollowLinkSpent(Exception):
    pass


def confirm_follow(nonce: str, address: network.IPAddress | None) -> Follower:
    """Create the follower for a follow link; a link that was used raises FollowLinkSpent,
    and an address over its hourly budget of new followers raises TooManyFollows."""
    now = timezone.now()
    try:
        with transaction.atomic():
            follower = Follower.objects.create(
                backend=LocalFollowBackend.name,
                key=secrets.token_hex(16),
                followed_at=now,
                origin_network=budget.admit(address, now),
            )
            UsedFollowToken.objects.create(nonce=nonce, used_at=now, follower=follower)
    except IntegrityError:
        raise FollowLinkSpent from None
    return follower


def remember(response: HttpResponse, follower: Follower) -> HttpResponse:
    identity.remember_follower(response, follower.pk)
    return response
