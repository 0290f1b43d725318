"""Whole-page caching for the public read-only pages, invalidated by the content token.

Only anonymous-equivalent responses are cached: GET/HEAD, no query string, status
200, and pages that set no cookie. Signed-in staff bypass the cache both ways: they
may see drafts as previews, which must never be served to (or from) anyone else. Each worker keeps its own copy for at most the
number of seconds its setting names; any change to public content (see
`casevote.freshness`) makes every worker render afresh.
"""

from functools import wraps

from django.conf import settings
from django.core.cache import cache

from casevote import freshness


def cached_page(seconds_setting: str = "CASEVOTE_PAGE_CACHE_SECONDS"):
    """Cache a public page until public content changes, or for the number of seconds
    named by `seconds_setting` (0 turns the cache off)."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            seconds = getattr(settings, seconds_setting)
            if (
                not seconds
                or request.method not in ("GET", "HEAD")
                or request.GET
                or is_staff(request)
            ):
                return view(request, *args, **kwargs)
            token = freshness.version()
            if token is None:  # the shared cache is away: nothing may be reused
                return view(request, *args, **kwargs)
            key = f"casevote:page:{token}:{request.path}"
            response = cache.get(key)
            if response is None:
                response = view(request, *args, **kwargs)
                # A view may shorten the period: e.g. results that appear at a known time.
                seconds = min(seconds, getattr(response, "cache_seconds", seconds))
                if response.status_code == 200 and not response.cookies and seconds > 0:
                    if hasattr(response, "render"):
                        response.render()
                    cache.set(key, response, seconds)
            return response

        return wrapper

    return decorator


def is_staff(request) -> bool:
    """A signed-in staff member (only looked up when the request carries a session)."""
    if settings.SESSION_COOKIE_NAME not in request.COOKIES:
        return False
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_staff)
