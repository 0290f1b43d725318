"""Stop asking WeChat for a while after repeated outages, in every worker at once.

With two sync workers, a WeChat that hangs would hold both for the whole deadline of
every callback and ballot check, and the pages that never need WeChat would queue
behind them. After CASEVOTE_WECHAT_BREAKER_FAILURES outages (timeouts, refused
connections, HTTP errors, "system busy") within CASEVOTE_WECHAT_BREAKER_SECONDS, the
breaker opens for that many seconds: calls fail at once without touching the network.
Then WeChat is asked again; a success clears the count. The state lives in the
shared cache, so every worker sees it. Answers that are WeChat saying "no" (a used
code, a wrong secret) are not outages and never open it.
"""

import logging

from django.conf import settings
from django.core.cache import caches

from ballots.follow import shared_lock

logger = logging.getLogger(__name__)

FAILURES_KEY = "casevote:wechat:breaker:failures"
OPEN_KEY = "casevote:wechat:breaker:open"
LOCK_WAIT_SECONDS = 1  # counting takes milliseconds; never hold a request longer


def is_open() -> bool:
    return bool(caches["shared"].get(OPEN_KEY))


def record_outage() -> None:
    """Count one outage; open the breaker when there are enough in the window.

    The file cache's `incr` reads, then writes: two workers failing at the same moment
    would both count one. The count is taken under the shared lock, so it is exact."""
    shared = caches["shared"]
    window = settings.CASEVOTE_WECHAT_BREAKER_SECONDS
    with shared_lock.held("wechat-breaker", wait=LOCK_WAIT_SECONDS):
        failures = (shared.get(FAILURES_KEY) or 0) + 1
        shared.set(FAILURES_KEY, failures, window)
        if failures < settings.CASEVOTE_WECHAT_BREAKER_FAILURES or not shared.add(
            OPEN_KEY, 1, window
        ):
            return
        shared.delete(FAILURES_KEY)
    logger.warning("WeChat API: %s outages in a row; not asking WeChat for %s s", failures, window)


def record_success() -> None:
    caches["shared"].delete(FAILURES_KEY)
