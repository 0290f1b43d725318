"""Stop asking WeChat for a while after repeated outages, in every worker at once.

With two sync workers, a WeChat that hangs would hold both for the whole deadline of
every callback and ballot check, and the pages that never need WeChat would queue
behind them. After CASEVOTE_WECHAT_BREAKER_FAILURES outages (timeouts, refused
connections, HTTP errors, "system busy") within CASEVOTE_WECHAT_BREAKER_SECONDS, the
breaker opens for that many seconds: calls fail at once without touching the network.
Then WeChat is asked again; a success clears the count. The state lives in the
shared cache, so every worker of every node sees it. While the shared cache is
unreachable the breaker can neither open nor be read: it counts as closed (the calls
that need WeChat's token fail anyway, since its lock lives there too). Answers that are WeChat saying "no" (a used
code, a wrong secret) are not outages and never open it.
"""

import logging
from contextlib import suppress

from django.conf import settings
from django.core.cache import caches

from casevote import sharedcache
from casevote.sharedcache import SharedCacheUnavailable

logger = logging.getLogger(__name__)

FAILURES_KEY = "casevote:wechat:breaker:failures"
OPEN_KEY = "casevote:wechat:breaker:open"


def is_open() -> bool:
    try:
        return bool(caches["shared"].get(OPEN_KEY))
    except SharedCacheUnavailable:
        return False


def record_outage() -> None:
    """Count one outage; open the breaker when there are enough in the window.

    Workers failing at the same moment each count one (sharedcache.count is exact on
    every backend); the one whose count reaches the limit opens the breaker."""
    window = settings.CASEVOTE_WECHAT_BREAKER_SECONDS
    try:
        failures = sharedcache.count(FAILURES_KEY, window)
        if failures < settings.CASEVOTE_WECHAT_BREAKER_FAILURES:
            return
        if not caches["shared"].add(OPEN_KEY, 1, window):
            return
        caches["shared"].delete(FAILURES_KEY)
    except SharedCacheUnavailable:
        return  # said once a minute by casevote.sharedcache
    logger.warning("WeChat API: %s outages in a row; not asking WeChat for %s s", failures, window)


def record_success() -> None:
    with suppress(SharedCacheUnavailable):
        caches["shared"].delete(FAILURES_KEY)
