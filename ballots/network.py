"""Which address a request came from, and the networks it belongs to.

Only `REMOTE_ADDR` is trusted, unless it is one of our own proxies
(`CASEVOTE_TRUSTED_PROXIES`): then `X-Forwarded-For` is read from the right, skipping
our proxies, and the first address that is not ours is the client. A header sent by
a client directly is never believed.
"""

import ipaddress

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _is_trusted(address: IPAddress) -> bool:
    """Parsed per request (a few microseconds for the usual one or two proxies)."""
    return any(
        address in ipaddress.ip_network(proxy, strict=False)
        for proxy in settings.CASEVOTE_TRUSTED_PROXIES
    )


def _parse(value: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def client_address(meta: dict) -> IPAddress | None:
    remote = _parse(meta.get("REMOTE_ADDR", ""))
    if remote is None or not _is_trusted(remote):
        return remote
    forwarded = [part for part in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    for hop in reversed(forwarded):
        address = _parse(hop)
        if address is None:
            return remote  # a garbled header: fall back to what we know
        if not _is_trusted(address):
            return address
    return remote


def _network_text(address: IPAddress, prefix: int) -> str:
    """The network of `prefix` bits holding `address`, written as ipaddress writes one
    ("198.51.100.0/24", "2409:8a12::/48"), by masking the integer: parsing the text
    back into a network cost five times as much, and the vote simulator derives this
    for every one of its hundred thousand ballots."""
    host_bits = address.max_prefixlen - prefix
    return f"{type(address)(int(address) >> host_bits << host_bits)}/{prefix}"


def address_network(address: IPAddress | None) -> str:
    """The unit one household or phone gets: the IPv4 address, or the IPv6 /64."""
    if address is None:
        return ""
    if address.version == 4:
        return str(address)
    return _network_text(address, 64)


def address_subnet(address: IPAddress | None) -> str:
    """The unit a building, village or carrier NAT pool shares: IPv4 /24, IPv6 /48."""
    if address is None:
        return ""
    return _network_text(address, 24 if address.version == 4 else 48)
