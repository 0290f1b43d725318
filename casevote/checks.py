"""System checks of the site's infrastructure: the cache every app server shares."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from casevote import sharedcache


@register()
def shared_cache_url(app_configs, **kwargs) -> list:
    """A malformed CASEVOTE_SHARED_CACHE_URL stops the start: every node would otherwise
    fail at its first request, or run with a cache it does not share."""
    problem = sharedcache.url_problem(settings.CASEVOTE_SHARED_CACHE_URL)
    if problem is None:
        return []
    return [
        Error(
            f"CASEVOTE_SHARED_CACHE_URL is malformed: {problem}.",
            hint="Write it as redis://HOST:6379/0 (rediss:// with TLS, unix:///path/redis.sock "
            "for a socket; a password as redis://:PASSWORD@HOST:6379/0).",
            id="casevote.E030",
        )
    ]


@register(Tags.caches, deploy=True)
def shared_cache_is_shared(app_configs, **kwargs) -> list:
    """Production on the file cache works on one machine only: a second app server would
    keep its own content token, WeChat token, breaker and limits."""
    if sharedcache.uses_redis():
        return []
    return [
        Warning(
            "The shared cache is a folder on this machine (CASEVOTE_SHARED_CACHE_URL is "
            "empty): fine for one app server, wrong for several.",
            hint="With more than one app server set CASEVOTE_SHARED_CACHE_URL=redis://HOST:6379/0 "
            "on every one (docs/operating.md, Several app servers).",
            id="casevote.W030",
        )
    ]
