"""Whole-page caching for the public read-only pages, invalidated by freshness tokens.

Only anonymous-equivalent responses are cached: GET/HEAD, no query string, status
200, and pages that set no cookie. Each worker keeps its own copy for at most
PAGE_CACHE_SECONDS; a catalogue change makes every worker render afresh.
"""

from functools import wraps

from django.conf import settings
from django.core.cache import cache

from cases import freshness


def cached_page(*scopes: str, seconds_setting: str = "CASEVOTE_PAGE_CACHE_SECONDS"):
    """Cache a public page until one of `scopes` (default: the catalogue) changes,
    or for the number of seconds named by `seconds_setting`."""
    scopes = scopes or (freshness.CATALOGUE,)

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            seconds = getattr(settings, seconds_setting)
            if not seconds or request.method not in ("GET", "HEAD") or request.GET:
                return view(request, *args, **kwargs)
            versions = ":".join(freshness.version(scope) for scope in scopes)
            key = f"casevote:page:{versions}:{request.path}"
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
