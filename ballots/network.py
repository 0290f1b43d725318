"""Which address a request came from, and the networks it belongs to.

Only `REMOTE_ADDR` is trusted, unless it is one of our own proxies
(`CASEVOTE_TRUSTED_PROXIES`): then `X-Forwarded-For` is read from the right, skipping
our proxies, and the first address that is not ours is the client. A header sent by
a client directly is never believed.

Every address is read through `parse_address`, which turns an IPv4-mapped IPv6
address (`::ffff:198.51.100.7`) into the IPv4 address it is: a server listening on
`[::]` sees every IPv4 peer in that form, and kept as IPv6 every IPv4 voter would fall
into the one /64 `::/64`, sharing one hourly budget and one bucket of evidence.
"""

import functools
import ipaddress
import logging

from django.conf import settings

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def unmapped(address: IPAddress) -> IPAddress:
    """The IPv4 address inside an IPv4-mapped one (`::ffff:0:0/96`); any other address
    as it is. Other IPv6 forms that carry an IPv4 address stay IPv6: 6to4 (2002::/16)
    and Teredo (2001::/32) are tunnels an IPv6 host uses, and the /64 and /48 already
    bound them (a 6to4 /48 is one IPv4 address)."""
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_address(value: str) -> IPAddress | None:
    """An address as the site keeps it (IPv4-mapped ones as IPv4), or None."""
    try:
        return unmapped(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def unmapped_network(network: IPNetwork) -> IPNetwork:
    """`::ffff:10.0.0.0/104` is 10.0.0.0/8: a proxy listed, or a slice typed by the
    committee, in mapped form (as gunicorn's access log on [::] writes addresses) still
    matches the IPv4 addresses the site keeps."""
    mapped = network.network_address.ipv4_mapped if network.version == 6 else None
    if mapped is None or network.prefixlen < 96:
        return network
    return ipaddress.IPv4Network((mapped, network.prefixlen - 96))


@functools.lru_cache(maxsize=8)
def _trusted_networks(proxies: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """Parsed once per list of proxies (a test may change the list; a process keeps one)."""
    return tuple(unmapped_network(ipaddress.ip_network(p, strict=False)) for p in proxies)


def _is_trusted(address: IPAddress) -> bool:
    networks = _trusted_networks(tuple(settings.CASEVOTE_TRUSTED_PROXIES))
    return any(address in network for network in networks)


def client_address(meta: dict) -> IPAddress | None:
    remote = parse_address(meta.get("REMOTE_ADDR", ""))
    if remote is None or not _is_trusted(remote):
        return remote
    forwarded = [part for part in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    for hop in reversed(forwarded):
        address = parse_address(hop)
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


# --- Saying which address the site believes ------------------------------------------


def believed_address() -> str:
    """Which address the site takes for the client, in one line for the log."""
    proxies = settings.CASEVOTE_TRUSTED_PROXIES
    if not proxies:
        return (
            "client address from REMOTE_ADDR (CASEVOTE_TRUSTED_PROXIES is empty: "
            "X-Forwarded-For is ignored)"
        )
    return (
        f"client address from X-Forwarded-For behind trusted proxies {', '.join(proxies)} "
        "(from REMOTE_ADDR when a request does not come through them)"
    )


class ProxyWatchMiddleware:
    """Says once per process, when the process builds its request handler (each gunicorn
    worker as it starts), which address the site believes; warns once per process when
    X-Forwarded-For arrives from an address that is not a trusted proxy.

    Behind a proxy that is not listed, every ballot comes from the proxy's address and
    the whole site shares one address's hourly budget: these two lines make that
    visible in the log. On the hot path it costs a dictionary lookup per request
    (plus one set lookup when a trusted proxy sends the header), and after the warning
    only an attribute check."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.watching = True
        self.trusted_remotes: set[str] = set()  # REMOTE_ADDR values already judged ours
        logger.info("%s", believed_address())

    def __call__(self, request):
        if self.watching and "HTTP_X_FORWARDED_FOR" in request.META:
            self._judge(request.META.get("REMOTE_ADDR", ""))
        return self.get_response(request)

    def _judge(self, remote_text: str) -> None:
        if remote_text in self.trusted_remotes:
            return
        remote = parse_address(remote_text)
        if remote is not None and _is_trusted(remote):
            self.trusted_remotes.add(remote_text)
            return
        self.watching = False
        logger.warning(
            "X-Forwarded-For arrived from %s, which is not in CASEVOTE_TRUSTED_PROXIES, so "
            "the header is ignored. If that is our reverse proxy, list it there: until then "
            "every voter behind it counts as that one address and the whole site shares "
            "its hourly budget. If it is a client sending the header itself, nothing is "
            "wrong. (Said once per process.)",
            remote or "a connection without an address",
        )
