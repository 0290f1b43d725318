"""Whole-page caching for the public read-only pages, invalidated by freshness tokens.

Only anonymous-equivalent responses are cached: GET/HEAD, no query string, status
200, and pages that set no cookie. Each worker keeps its own copy for at most
PAGE_CACHE_SECONDS; a catalogue change makes every worker render afresh.
"""

from functools import wraps

from django.conf import settings
from django.core.cache import cache

from cases import freshness


def cached_page(scope: str = freshness.CATALOGUE):
    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            seconds = settings.CASEVOTE_PAGE_CACHE_SECONDS
            if not seconds or request.method not in ("GET", "HEAD") or request.GET:
                return view(request, *args, **kwargs)
            key = f"casevote:page:{freshness.version(scope)}:{request.path}"
            response = cache.get(key)
            if response is None:
                response = view(request, *args, **kwargs)
                if response.status_code == 200 and not response.cookies:
                    if hasattr(response, "render"):
                        response.render()
                    cache.set(key, response, seconds)
            return response

        return wrapper

    return decorator
