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


def address_network(address: IPAddress | None) -> str:
    """The unit one household or phone gets: the IPv4 address, or the IPv6 /64."""
    if address is None:
        return ""
    if address.version == 4:
        return str(address)
    return str(ipaddress.ip_network(f"{address}/64", strict=False))


def address_subnet(address: IPAddress | None) -> str:
    """The unit a building, village or carrier NAT pool shares: IPv4 /24, IPv6 /48."""
    if address is None:
        return ""
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
