"""How fast one address may create followers (identities that can vote), whichever gate.

A ballot budget limits the ballots from an address; without this, one address could
mint identities as fast as it can post (300 in 2 s through the local gate). A new
follower is admitted inside the transaction that creates it: followers from one /24
take turns (ballots.locks), then those created from the same address in the last hour
are counted. A follower who comes back is not new, and costs nothing.
"""

from datetime import datetime, timedelta

from django.conf import settings

from ballots import locks, network
from ballots.models import Follower
from casevote.errors import Refusal

WINDOW = timedelta(hours=1)
MESSAGE = "这个网络新关注的人太多了，请过一会儿再试。"


class TooManyFollows(Refusal):
    status_code = 429


def admit(address: network.IPAddress | None, now: datetime) -> str:
    """The network to record on a new follower created from `address`; raises
    TooManyFollows over the hourly budget. Call inside the creating transaction."""
    origin = network.address_network(address)
    if not origin:
        return ""
    locks.take_turns("follow", network.address_subnet(address))
    recent = Follower.objects.filter(origin_network=origin, created_at__gte=now - WINDOW)
    if recent.count() >= settings.CASEVOTE_FOLLOWS_PER_ADDRESS_HOURLY:
        raise TooManyFollows(MESSAGE)
    return origin
