"""The local follow gate: a QR code links to a one-time follow page on this site.

A demonstration of the WeChat official account's gate: scanning the code (or tapping
the link on the phone) and confirming creates the Follower and remembers it in a signed
cookie. Anyone may declare they follow, so with DEBUG off it runs only on a site that
says it is a demonstration (CASEVOTE_DEMO_GATE; a system-check error otherwise), and
every page of it says so.
"""

import secrets

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from ballots import identity, network, tokens
from ballots.follow import budget
from ballots.follow.base import FollowBackend
from ballots.models import Follower, UsedFollowToken


class LocalFollowBackend(FollowBackend):
    name = "local"

    def gate(self, request: HttpRequest) -> HttpResponse:
        return render_gate(request, "ballots/gate.html")

    def still_following(self, follower: Follower) -> bool:
        return True


def follow_url(request: HttpRequest, token: str) -> str:
    """The absolute follow link of a token: what its QR code encodes."""
    return request.build_absolute_uri(reverse("ballots:follow", args=[token]))


def render_gate(request: HttpRequest, template: str, status: int = 200, **context) -> HttpResponse:
    """A page with a fresh one-time follow link and its QR code."""
    token = tokens.make_follow_token()
    context |= {"follow_token": token, "follow_link": follow_url(request, token)}
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
