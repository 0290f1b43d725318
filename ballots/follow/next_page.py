"""Where a visitor goes back to after the follow gate: the page they came from.

Only a path on this site is accepted (`url_has_allowed_host_and_scheme` with no host
allowed, and a leading "/"), so the gate never becomes an open redirect; anything else
is the featured batch's ballot.
"""

from django.http import HttpRequest
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

MAX_LENGTH = 512


def safe_next(candidate: str | None) -> str:
    """`candidate` if it is a same-site path, else /vote/."""
    if (
        candidate
        and len(candidate) <= MAX_LENGTH
        and candidate.startswith("/")
        and url_has_allowed_host_and_scheme(candidate, allowed_hosts=None, require_https=False)
    ):
        return candidate
    return reverse("ballots:vote")


def here(request: HttpRequest) -> str:
    """The page the gate interrupted (a GET of it), to return to after following."""
    return safe_next(request.get_full_path() if request.method in ("GET", "HEAD") else None)
