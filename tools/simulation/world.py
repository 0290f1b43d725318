"""The simulated world: the window's calendar on the diurnal curve, the address pools
(carrier NAT regions, home lines, IPv6, datacenters, provinces), a NAT's egress
addresses within the site's hourly budget, and the phones' user agents."""

import ipaddress
import math
import random
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ballots import network
from tools.simulation.parameters import (
    ANDROID_MODELS,
    ANDROID_VERSIONS,
    BEIJING,
    CHROME_VERSIONS,
    DATACENTER_OCTETS,
    HOME_OCTETS,
    HOUR_WEIGHTS,
    IOS_VERSIONS,
    IPV6_CARRIERS,
    IPV6_SUBNETS,
    MIN_NAT_ADDRESSES,
    NAT_ADDRESSES_PER_SUBNET,
    NAT_BALLOTS_PER_ADDRESS,
    NAT_OCTETS,
    NAT_REGIONS,
    NET_TYPES,
    NETWORK_MIX,
    NON_WECHAT_SHARE,
    OTHER_USER_AGENTS,
    PROVINCE_HOME_BLOCKS,
    PROVINCE_IPV6_SUBNETS,
    USER_AGENT_POPULARITY_EXPONENT,
    WECHAT_USER_AGENTS,
    WECHAT_VERSIONS,
)
from tools.simulation.scenario import SimulationError

# --- Time --------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    start: float  # timestamp
    end: float
    weight: float


class Calendar:
    """The simulated window as Beijing dates, each cut into hourly slots weighted by
    the diurnal curve (clipped at the window's edges)."""

    def __init__(self, start: datetime, end: datetime):
        self.start, self.end = start.timestamp(), end.timestamp()
        self.dates: list[date] = []
        self.slots: list[list[Slot]] = []
        self.cumulative: list[list[float]] = []
        self.mass: list[float] = []  # share of a full day's votes each date can hold
        full_day = sum(HOUR_WEIGHTS)
        hour = start.astimezone(BEIJING).replace(minute=0, second=0, microsecond=0)
        while hour.timestamp() < self.end:
            slot_start = max(hour.timestamp(), self.start)
            slot_end = min((hour + timedelta(hours=1)).timestamp(), self.end)
            weight = HOUR_WEIGHTS[hour.hour] * (slot_end - slot_start) / 3600
            if not self.dates or self.dates[-1] != hour.date():
                self.dates.append(hour.date())
                self.slots.append([])
            self.slots[-1].append(Slot(slot_start, slot_end, weight))
            hour = (hour + timedelta(hours=1)).astimezone(BEIJING)
        for slots in self.slots:
            running, cumulative = 0.0, []
            for slot in slots:
                running += slot.weight
                cumulative.append(running)
            self.cumulative.append(cumulative)
            self.mass.append(running / full_day)

    def moment(self, rng: random.Random, day: int) -> float:
        """A vote time on date `day`, following the diurnal curve."""
        slot = rng.choices(self.slots[day], cum_weights=self.cumulative[day])[0]
        return rng.uniform(slot.start, slot.end)

    def day_weighted(self, rng: random.Random) -> int:
        return rng.choices(range(len(self.dates)), weights=self.mass)[0]

    def local(self, day: int, hour: float) -> float:
        """The timestamp of `hour` (fractional) on date `day`, Beijing time."""
        midnight = datetime.combine(self.dates[day], datetime.min.time(), tzinfo=BEIJING)
        return (midnight + timedelta(hours=hour)).timestamp()

    def fit(self, moment: float, duration: float) -> float:
        """Move an episode of `duration` seconds starting at `moment` inside the window."""
        latest = self.end - duration - 1
        return max(self.start, min(moment, latest))

    def inner_day(self, rng: random.Random) -> int:
        """A date away from the window's edges when there is one."""
        if len(self.dates) <= 2:
            return len(self.dates) - 1
        return rng.randrange(1, len(self.dates) - 1)


# --- Identities and networks --------------------------------------------------------


class Addresses:
    """Address pools: carrier NAT egress addresses per region, home lines, IPv6 /48s,
    datacenter /24s. Each pool's first octets are disjoint from the others'."""

    def __init__(self, rng: random.Random, honest_ballots: int):
        self.rng = rng
        self.used_subnets: set[tuple[int, int, int]] = set()
        nat_total = max(
            MIN_NAT_ADDRESSES,
            round(honest_ballots * dict(NETWORK_MIX)["nat"] / 100 / NAT_BALLOTS_PER_ADDRESS),
        )
        per_region = max(NAT_ADDRESSES_PER_SUBNET, nat_total // NAT_REGIONS)
        self.nat: list[list[str]] = []
        for _ in range(NAT_REGIONS):
            region: list[str] = []
            while len(region) < per_region:
                prefix = self.new_subnet(NAT_OCTETS)
                region.extend(
                    f"{prefix}.{host}"
                    for host in rng.sample(range(2, 254), NAT_ADDRESSES_PER_SUBNET)
                )
            self.nat.append(region[:per_region])
        self.ipv6: list[str] = []
        for _ in range(IPV6_SUBNETS):
            carrier = rng.choice(IPV6_CARRIERS)
            self.ipv6.append(f"{carrier}{rng.getrandbits(8):02x}:{rng.getrandbits(16):x}")
        self.cache: dict[str, network.IPAddress] = {}

    def new_subnet(self, octets: Sequence[int], rng: random.Random | None = None) -> str:
        """A /24 nobody here uses yet.

        The kinds added after the first traps and attacks pass their own generator
        (`rng`): the shared one is not moved, so the older kinds' addresses stay what
        they were. They draw once and, if another kind has that /24, take the next free
        one, so that what else is in the poll changes that one address and not the rest
        of their stream."""
        if rng is None:
            while True:
                key = (
                    self.rng.choice(octets),
                    self.rng.randrange(1, 255),
                    self.rng.randrange(0, 256),
                )
                if key not in self.used_subnets:
                    self.used_subnets.add(key)
                    return ".".join(map(str, key))
        first = rng.choice(octets)
        return self.free_subnet([(first, rng.randrange(1, 255))], rng.randrange(0, 256))

    def free_subnet(self, blocks: Sequence[tuple[int, int]], third: int) -> str:
        """The first unused /24 from `third` on in the /16s `blocks` (the first block
        first, then the next ones), without random draws."""
        for first, second in blocks:
            for step in range(256):
                key = (first, second, (third + step) % 256)
                if key not in self.used_subnets:
                    self.used_subnets.add(key)
                    return ".".join(map(str, key))
        raise SimulationError("模拟的地址段已经用完。")

    def home(self, rng: random.Random | None = None) -> str:
        """A home line: its own address, almost always in a /24 nobody else here uses."""
        return f"{self.new_subnet(HOME_OCTETS, rng)}.{(rng or self.rng).randrange(2, 254)}"

    def province(self, rng: random.Random) -> "Province":
        """One province's networks: a carrier NAT region, a few /16s of home lines and
        a few of the carriers' IPv6 /48s (which its honest voters share)."""
        blocks = set()
        while len(blocks) < PROVINCE_HOME_BLOCKS:
            blocks.add((rng.choice(HOME_OCTETS), rng.randrange(1, 255)))
        return Province(
            region=rng.randrange(NAT_REGIONS),
            home_blocks=tuple(sorted(blocks)),
            ipv6=tuple(rng.sample(self.ipv6, PROVINCE_IPV6_SUBNETS)),
        )

    def province_home(self, rng: random.Random, province: "Province") -> str:
        """A home line in the province: its own /24 inside one of the province's /16s."""
        blocks = list(province.home_blocks)
        start = rng.randrange(len(blocks))
        subnet = self.free_subnet(blocks[start:] + blocks[:start], rng.randrange(0, 256))
        return f"{subnet}.{rng.randrange(2, 254)}"

    def mobile(self, rng: random.Random) -> str:
        """A phone on mobile data anywhere: a carrier NAT address of a random region,
        or an address in a new /64 of one of the carriers' /48s."""
        if rng.random() < 0.5:
            return self.nat_address(rng, rng.randrange(NAT_REGIONS))
        return self.ipv6_address(rng, self.ipv6_prefix(rng))

    def datacenter_subnets(self, count: int) -> list[str]:
        return [self.new_subnet(DATACENTER_OCTETS) for _ in range(count)]

    def nat_address(self, rng: random.Random, region: int) -> str:
        return rng.choice(self.nat[region])

    def ipv6_prefix(self, rng: random.Random) -> str:
        """A phone's /64 inside one of the carriers' /48s."""
        return f"{rng.choice(self.ipv6)}:{rng.getrandbits(16):x}"

    @staticmethod
    def ipv6_address(rng: random.Random, prefix: str) -> str:
        groups = ":".join(f"{rng.getrandbits(16):x}" for _ in range(4))
        return f"{prefix}:{groups}"

    def parse(self, raw: str) -> network.IPAddress:
        """The address as the site reads it, parsed once per distinct address."""
        known = self.cache.get(raw)
        if known is None:
            known = self.cache[raw] = network.unmapped(ipaddress.ip_address(raw))
        return known


@dataclass(frozen=True)
class Province:
    region: int  # carrier NAT region
    home_blocks: tuple[tuple[int, int], ...]  # first two octets of its home lines
    ipv6: tuple[str, ...]  # carrier /48s


def share_addresses(
    rng: random.Random,
    casts: Sequence[float],
    hosts: list[str],
    another: Callable[[], str],
    budget: int,
) -> list[str]:
    """One address per ballot (`casts` ascending) from a NAT's egress `hosts`, at random,
    keeping each address within the site's hourly budget: a full address is skipped, and
    when all are full `another()` adds one, as a gateway spreads its load. The site
    counts the ballots cast in the hour up to and including the new one."""
    recent: dict[str, deque[float]] = {host: deque() for host in hosts}
    chosen = []
    for cast in casts:
        for host in rng.sample(hosts, len(hosts)):
            window = recent[host]
            while window and window[0] < cast - 3_600:
                window.popleft()
            if len(window) < budget:
                break
        else:
            host = another()
            hosts.append(host)
            window = recent[host] = deque()
        window.append(cast)
        chosen.append(host)
    return chosen


def busiest_hour(casts: Sequence[float]) -> int:
    """The most ballots in any hour (`casts` ascending), as the site counts them."""
    busiest, first = 0, 0
    for last, cast in enumerate(casts):
        while casts[first] < cast - 3_600:
            first += 1
        busiest = max(busiest, last - first + 1)
    return busiest


def user_agent_pool(rng: random.Random) -> tuple[list[str], list[float]]:
    """Hundreds of WeChat in-app browser user agents and a few others, with weights
    skewed like a real phone market (a few models are everywhere)."""
    agents: list[str] = []
    seen: set[str] = set()
    while len(agents) < WECHAT_USER_AGENTS:
        version, code = rng.choice(WECHAT_VERSIONS)
        net = rng.choice(NET_TYPES)
        if rng.random() < 0.35:
            ios = rng.choice(IOS_VERSIONS)
            agent = (
                f"Mozilla/5.0 (iPhone; CPU iPhone OS {ios} like Mac OS X) AppleWebKit/605.1.15 "
                f"(KHTML, like Gecko) Mobile/15E148 MicroMessenger/{version}({code}) "
                f"NetType/{net} Language/zh_CN"
            )
        else:
            model = rng.choice(ANDROID_MODELS)
            agent = (
                f"Mozilla/5.0 (Linux; Android {rng.choice(ANDROID_VERSIONS)}; {model} "
                f"Build/{model[:3].upper()}{rng.randrange(10, 99)}; wv) AppleWebKit/537.36 "
                f"(KHTML, like Gecko) Version/4.0 Chrome/{rng.choice(CHROME_VERSIONS)} Mobile "
                f"Safari/537.36 XWEB/{rng.randrange(5000, 9000)} MMWEBSDK/20231002 "
                f"MicroMessenger/{version}.{rng.randrange(2300, 2600)}({code}) "
                f"WeChat/arm64 Weixin NetType/{net} Language/zh_CN ABI/arm64"
            )
        if agent not in seen:
            seen.add(agent)
            agents.append(agent)
    rng.shuffle(agents)
    weights = [1 / (rank + 1) ** USER_AGENT_POPULARITY_EXPONENT for rank in range(len(agents))]
    wechat_mass = sum(weights)
    other_weight = wechat_mass * NON_WECHAT_SHARE / (1 - NON_WECHAT_SHARE) / len(OTHER_USER_AGENTS)
    agents.extend(OTHER_USER_AGENTS)
    weights.extend([other_weight] * len(OTHER_USER_AGENTS))
    return agents, weights


def lognormal(rng: random.Random, median: float, sigma: float, low: float, high: float) -> float:
    return min(high, max(low, rng.lognormvariate(math.log(median), sigma)))


def new_device_id(rng: random.Random) -> str:
    return f"sim{rng.getrandbits(64):016x}"


def accumulate(values: Iterable[float]) -> Iterable[float]:
    running = 0.0
    for value in values:
        running += value
        yield running
