"""Synthetic vote traffic: honest voters, traps and attacks, with ground truth.

The brushing detector (`ballots.detection`) is only as good as the traffic it was
tried on, so this module makes a poll the way the design describes it
(../shared/design/vote-integrity.md, "Testing it"): several days of honest votes on
a diurnal curve, traps that look odd but are honest, and the attacks the detector
must catch. `Scenario` says which case each trap and attack played, so a detector's
precision and recall can be measured.

Traps (honest, must not be flagged); the default ones are `TRAPS`:
- village: one village Wi-Fi, one evening, after the chief's message;
- viral: a case in the news, thousands of new voters over an afternoon;
- workplace: the staff behind one office NAT on a weekday morning, after the boss's
  message, half of them following first;
- loyal: residents who vote for their case every day at their habit hour, quickly;
- province: a case popular in one province, on that province's networks only;
- campus: students over two evenings through the campus network's few NAT addresses.

Attacks (must be flagged, but "stealth"); the default ones are `ATTACKS`:
- script: one address, one user agent, a ballot every ~40 s, single-choice;
- proxy: a rotating datacenter proxy pool, accounts followed seconds before;
- farm: a night click farm, a room of phones, the target with popular decoys;
- drip: a few ballots an hour around the clock for days;
- churn: paid voters who follow, vote and unfollow within hours;
- residential: a paid "真人投票" job on rotating residential and mobile addresses,
  fresh accounts and devices but two user agents, the target with a popular decoy;
- small: a paid job adding only 10–15 % to a popular case over an afternoon;
- stealth: a human-paced farm of people recruited long ago, expected to slip through.

Two ways out, the same poll for the same seed: `simulate()` writes it to the database
through the models (chunked `bulk_create`, one transaction), and `simulate_records()`
builds the detector's `BallotRecord`s in memory, with no database, for running the
detector over hundreds of polls; `offer_for(batch)` is what the batch gives the latter.
Times are back-dated in Asia/Shanghai, by the site's rules: each ballot row is made by
`ballots.services.new_ballot` (period, Beijing day, address networks, user agent,
receipt code) — the records mode derives the same fields the same way — its cases are
those the site offers (`cases.catalogue`) within its choice limits (`ballots.rules`),
every reader stays on the form as long as the site allows (CASEVOTE_MIN_DWELL_SECONDS
to CASEVOTE_FORM_MAX_AGE), no address casts more ballots in an hour than the site's
budget (CASEVOTE_IP_HOURLY_BUDGET) where a kind shares addresses on purpose, and every
ballot obeys the model's constraints: one ballot per follower per period, the form
served before the cast, unique form nonce and receipt. Every random draw comes from a
`random.Random` seeded from (seed, part) — never the global generator — so honest
traffic does not depend on which traps and attacks are requested, and each case plays
the same role whatever is requested (roles are drawn for all kinds every time). The
first seven traps and attacks draw addresses from one shared generator (see
`RUN_ORDER`); the newer ones have their own and change nothing of the others. Followers written to the
database have `backend="simulated"` and keys naming the batch, seed and kind
(`b2s7-script-00012`), so a second run with the same seed is refused rather than
colliding.
"""

import hashlib
import ipaddress
import math
import random
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction

from ballots import network
from ballots.detection import BallotRecord
from ballots.models import Ballot, Choice, new_receipt_code
from ballots.models import Follower as FollowerModel
from ballots.rules import voting_rules
from ballots.services import new_ballot
from cases.catalogue import load as load_catalogue
from cases.models import Batch, Case

BEIJING = ZoneInfo("Asia/Shanghai")
SIMULATED_BACKEND = "simulated"
ATTACKS = ("script", "proxy", "farm", "drip")  # written unless --attacks says otherwise
# Every attack the simulator knows; the others only when asked for (see each one).
ALL_ATTACKS = (*ATTACKS, "churn", "residential", "small", "stealth")
TRAPS = ("village", "viral")  # written unless --traps says otherwise
ALL_TRAPS = (*TRAPS, "workplace", "loyal", "province", "campus")
# The first traps and attacks draw their addresses from one shared generator, in this
# order; the newer kinds come after them (with generators of their own), so asking for
# those changes nothing of the others. The small attack is last: it sizes itself on
# the ballots its case already has.
RUN_ORDER = (
    "village", "viral", "script", "proxy", "farm", "drip", "churn",
    "workplace", "loyal", "province", "campus", "residential", "stealth", "small",
)  # fmt: skip
HONEST = "honest"

DEFAULT_DAYS = 5
DEFAULT_BALLOTS = 10_000
CHUNK_SIZE = 2_000  # ballots per bulk_create: memory stays flat however large the run

# Honest traffic. Relative votes per Beijing hour: quiet 02–05h, lunch and 19–21h peaks.
HOUR_WEIGHTS = (
    2.0, 1.0, 0.4, 0.3, 0.3, 0.6, 1.5, 3.5, 4.5, 5.0, 5.0, 6.0,
    8.0, 7.0, 5.0, 4.5, 4.5, 5.0, 6.0, 8.5, 9.0, 8.0, 5.5, 3.5,
)  # fmt: skip
POPULARITY_EXPONENT = 0.8  # case weight = 1 / rank**exponent
SUPPORTER_POPULARITY_EXPONENT = 0.4  # flatter: every case has its own supporters
SUPPORTER_SHARE = 0.45
SUPPORTER_SINGLE_CHOICE = 0.65
SUPPORTER_DAILY = (0.3, 0.95)  # chance a supporter votes on a given day
BROWSER_DAILY = (0.05, 0.4)
BROWSER_CHOICE_COUNTS = ((1, 20), (2, 25), (3, 20), (4, 12), (5, 9), (6, 6), (7, 4), (8, 4))
NEW_FOLLOWER_SHARE = 0.3  # followed during the campaign, minutes before their first vote
NETWORK_MIX = (("nat", 55), ("home", 25), ("v6", 20))
NAT_REGIONS = 24
NAT_BALLOTS_PER_ADDRESS = 12  # how shared a carrier NAT egress address is
NAT_ADDRESSES_PER_SUBNET = 4
MIN_NAT_ADDRESSES = 200
IPV6_SUBNETS = 60
WECHAT_USER_AGENTS = 420
NON_WECHAT_SHARE = 0.12
USER_AGENT_POPULARITY_EXPONENT = 0.9
# Seconds between the page being served and the ballot cast (lognormal median, sigma).
DWELL_FIRST = (35.0, 0.8)
DWELL_RETURNING = (20.0, 0.8)
# A reader's dwell is cut to the site's form window: at least 2.2 s (the site refuses
# a form sent faster than CASEVOTE_MIN_DWELL_SECONDS, 2 s; simulate() refuses to run
# if that setting is above the fastest reader here) and at most the form's lifetime,
# CASEVOTE_FORM_MAX_AGE (a reader who stays longer reloads the page).
DWELL_SHORTEST = 2.2
FOLLOW_LAG = (90.0, 0.8)  # a new follower: seconds from following to casting
FOLLOW_LAG_MIN = 20.0
# A few honest followers (traps included) unfollow, days after their last vote
# (lognormal median and sigma, in days: about one in four of them within a day).
HONEST_UNFOLLOW_SHARE = 0.02
HONEST_UNFOLLOW_DAYS = (2.0, 1.0)

# Traps: honest, must not be flagged.
VILLAGE_BALLOTS = (150, 250)
VILLAGE_SINGLE_CHOICE = 0.25
VILLAGE_NEW_FOLLOWERS = 0.6
VILLAGE_ARRIVAL_MINUTES = 45.0  # mean minutes after the chief's message
VILLAGE_HOURS = 3.5
VIRAL_SHARE = 0.15  # of --ballots
VIRAL_MIN_BALLOTS = 1_000
VIRAL_SINGLE_CHOICE = 0.6
VIRAL_NEW_FOLLOWERS = 0.8
VIRAL_ARRIVAL_MINUTES = 100.0
VIRAL_HOURS = 8.0
# A workplace: the boss posts in the staff group at 08:30 on a weekday; the staff vote
# from the office Wi-Fi (one NAT address, a second in its /24 when the hour is full).
WORKPLACE_BALLOTS = (120, 250)
WORKPLACE_MESSAGE_HOURS = (8.5, 8.75)  # when the boss posts, Beijing time
WORKPLACE_UNTIL_HOUR = 10.5  # arrivals are cut here (two hours after 08:30)
WORKPLACE_ARRIVAL_MINUTES = 25.0
WORKPLACE_NEW_FOLLOWERS = 0.5
WORKPLACE_SINGLE_CHOICE = 0.4
# A loyal base: residents who vote for their case every day at their habit hour, and
# know the page by heart.
LOYAL_VOTERS = (60, 120)
LOYAL_DAILY = 0.9
LOYAL_HABIT_HOURS = (8.0, 22.0)  # habit hours, ±1 h each day: never past midnight
LOYAL_SPREAD_HOURS = 1.0
LOYAL_SINGLE_CHOICE = 0.8
LOYAL_DWELL = (7.0, 0.5)  # lognormal median (s) and sigma, cut like any reader's
# A case popular in one province: ordinary voters on that province's networks.
PROVINCE_BALLOTS = (600, 1_000)
PROVINCE_HOME_BLOCKS = 3  # /16s of home lines that belong to the province
PROVINCE_IPV6_SUBNETS = 3  # of the carriers' /48s
# A campus: students hear of it in class groups over two evenings; the campus network
# leaves through a few NAT addresses.
CAMPUS_STUDENTS = (300, 500)
CAMPUS_EVENING = (19.5, 23.5)  # Beijing hours
CAMPUS_MESSAGES = (3, 6)  # group messages per evening, each followed by arrivals
CAMPUS_MESSAGE_LATEST = 22.5
CAMPUS_ARRIVAL_MINUTES = 20.0
CAMPUS_FIRST_EVENING = 0.6  # students who hear of it on the first evening
CAMPUS_AGAIN = 0.3  # first-evening students who vote again the next evening (daily)
CAMPUS_NEW_FOLLOWERS = 0.7
CAMPUS_SINGLE_CHOICE = 0.5
CAMPUS_SUBNETS = (2, 4)
CAMPUS_ADDRESSES_PER_SUBNET = 2
CAMPUS_USER_AGENTS = 30  # young phones: the newest WeChat on the newest systems
CAMPUS_WECHAT_VERSIONS = ("8.0.47", "8.0.49")
CAMPUS_SYSTEMS = ("OS 17_", "OS 18_", "Android 13;", "Android 14;")

# Attacks: must be flagged.
SCRIPT_BALLOTS = (300, 450)
SCRIPT_GAP_SECONDS = (32.0, 45.0)  # stays under the per-address hourly budget (120)
SCRIPT_JITTER = 0.03
SCRIPT_DWELL = (2.1, 2.6)
SCRIPT_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)
PROXY_BALLOTS = (400, 650)
PROXY_FEW_SUBNETS = 4
PROXY_USER_AGENTS = 3
PROXY_MEAN_GAP_SECONDS = (8.0, 14.0)
PROXY_DWELL = (2.1, 3.5)
PROXY_FOLLOW_LEAD = (2.0, 6.0)  # seconds between following and the form being served
FARM_BALLOTS = (250, 400)
FARM_MINUTES = 40
FARM_PHONES = (8, 12)
FARM_PHONE_MODELS = 4
FARM_ADDRESSES = (4, 5)
FARM_DECOYS = (1, 2)
FARM_DWELL = (4.0, 15.0)
FARM_FOLLOW_LEAD = (60.0, 360.0)
DRIP_GAP_MINUTES = (12.0, 28.0)
DRIP_ADDRESSES = 4
DRIP_PHONES = 3
DRIP_DWELL = (3.0, 8.0)
DRIP_FOLLOW_LEAD = (120.0, 480.0)
# Churn: paid voters on their own phones (a few accounts each) on mobile data, over an
# afternoon; each account follows, votes minutes later and unfollows within hours.
CHURN_BALLOTS = (250, 400)
CHURN_HOURS = 3.0
CHURN_ACCOUNTS_PER_PHONE = (3, 5)
CHURN_DECOY_SHARE = 0.15  # ballots that add one popular case
CHURN_DWELL = (4.0, 20.0)
CHURN_FOLLOW_LEAD = (60.0, 480.0)  # seconds between following and the form being served
CHURN_UNFOLLOW_HOURS = (0.2, 8.0)  # after voting
CHURN_STAY = 0.1  # accounts that forget to unfollow
# Residential: a paid "真人投票" job on rotating residential and mobile addresses — a
# fresh account, a fresh device cookie and a new address per ballot, at ordinary hours
# over two or three days, but only two user agents; the target and one popular decoy.
RESIDENTIAL_SHARE = (0.08, 0.12)  # of --ballots
RESIDENTIAL_MIN_BALLOTS = 300
RESIDENTIAL_DAYS = (2, 3)
RESIDENTIAL_DECOYS = 2  # the most popular cases; one per ballot
RESIDENTIAL_USER_AGENTS = 2
RESIDENTIAL_HOME_SHARE = 0.75  # home lines; the rest mobile (IPv6 or carrier NAT)
RESIDENTIAL_DWELL = (2.5, 6.0)
RESIDENTIAL_FOLLOW_LEAD = (30.0, 90.0)  # seconds between following and the form served
# Small: a paid job that adds only 10–15 % to a popular case, one afternoon.
SMALL_RANKS = (3, 6)  # the target's popularity rank
SMALL_SHARE = (0.10, 0.15)  # of the target's other ballots
SMALL_HOURS = (2.0, 4.0)
SMALL_USER_AGENTS = 3
SMALL_DWELL = (3.0, 8.0)
SMALL_FOLLOW_LEAD = (30.0, 120.0)
# Stealth: people recruited long ago vote on most days on their own phones and home
# lines, at human hours and pace, for the target and a few popular cases. Expected to
# slip through.
STEALTH_PEOPLE = (55, 65)
STEALTH_DAILY = (0.75, 0.95)
STEALTH_FOLLOWED_DAYS = (30, 300)  # before the window
STEALTH_EXTRA_CASES = (1, 3)

# Address ranges (first octets) kept apart so kinds of network never share a /24.
NAT_OCTETS = (36, 39, 42, 106, 111, 112, 117, 120, 223)
HOME_OCTETS = (58, 59, 60, 61, 113, 114, 115, 116, 124, 125, 180, 182, 218, 219, 220, 221, 222)
DATACENTER_OCTETS = (47, 101, 118, 119, 121, 123, 139, 150)
CAMPUS_OCTETS = (202, 210, 211)
IPV6_CARRIERS = ("2409:8a", "240e:3", "2408:84")

ANDROID_MODELS = (
    "V2134A", "PGBM10", "M2012K11AC", "NOH-AN00", "ANA-AN00", "ELS-AN00", "22081212C",
    "2201123C", "V2049A", "PDEM10", "RMX3366", "JAD-AL50", "LIO-AN00", "TAS-AN00", "M2102K1C",
    "SM-G9910", "PFJM10", "V2172A", "PHB110", "23049RAD8C", "ALN-AL00", "CTR-AL00", "V2309A",
    "PJD110", "BRA-AL00", "FNE-AN00", "RMX3706", "2211133C", "PGEM10", "V2227A",
)  # fmt: skip
ANDROID_VERSIONS = ("10", "11", "12", "13", "14")
IOS_VERSIONS = (
    "15_6_1",
    "16_1_2",
    "16_5",
    "16_6_1",
    "17_0_3",
    "17_1_2",
    "17_4_1",
    "17_5_1",
    "18_0",
)
WECHAT_VERSIONS = (
    ("8.0.38", "0x18002629"), ("8.0.40", "0x1800282a"), ("8.0.42", "0x18002a2f"),
    ("8.0.44", "0x18002c2d"), ("8.0.47", "0x18002f2c"), ("8.0.49", "0x18003137"),
)  # fmt: skip
CHROME_VERSIONS = ("107.0.5304.141", "111.0.5563.116", "116.0.0.0", "122.0.6261.120")
NET_TYPES = ("WIFI", "4G", "5G")
OTHER_USER_AGENTS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 13; V2227A) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; U; Android 12; zh-cn; M2012K11AC Build/SKQ1.211006.001) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/100.0.4896.127 Mobile Safari/537.36 XiaoMi/MiuiBrowser/17.8.60",
    "Mozilla/5.0 (Linux; U; Android 12; zh-CN; PGBM10 Build/SP1A.210812.016) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/100.0.4896.58 UCBrowser/15.5.2.1201 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; ANA-AN00) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/99.0.4844.88 Mobile Safari/537.36 HuaweiBrowser/14.0.4.302",
    "Mozilla/5.0 (Linux; U; Android 11; zh-cn; PDEM10) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/109.0.5414.86 MQQBrowser/14.7 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; U; Android 13; zh-CN; 22081212C) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/100.0.4896.58 Quark/6.9.5.500 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36 Edg/119.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/108.0.5359.95 Safari/537.36 QIHU 360SE",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0.0.0 Safari/537.36 WindowsWechat(0x63090819) XWEB/8447",
)  # fmt: skip


class SimulationError(Exception):
    """The simulation cannot run as asked; the message says why."""


@dataclass
class Scenario:
    """What was written, and the ground truth a detector is judged against."""

    batch: int
    seed: int
    start: datetime
    end: datetime
    targets: dict[str, int]  # attack name → the case it boosts
    decoys: list[int]  # popular cases the requested attacks add as camouflage (all of them)
    village_case: int  # trap: one Wi-Fi, one evening
    viral_case: int  # trap: a real surge
    counts: dict[str, int]  # ballots written per kind ("honest", "village", "script", …)
    # Per kind, honest excluded: the ballots' primary keys, or the records' ids in
    # `simulate_records`.
    ballot_ids: dict[str, list[int]] = field(default_factory=dict)
    followers: int = 0
    popularity: list[int] = field(default_factory=list)  # case numbers, most popular first
    trap_cases: dict[str, int] = field(default_factory=dict)  # trap name → its case
    decoys_of: dict[str, list[int]] = field(default_factory=dict)  # attack → its decoys

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def attacked_cases(self) -> set[int]:
        return set(self.targets.values())


@dataclass(frozen=True)
class Offer:
    """What the site offers a voter in a batch, all the simulator needs to know of it:
    the cases a ballot may name (in number order: the roles are drawn from this
    order), how many it must and may name, and how often a follower may vote.
    `offer_for` reads it from the database; `simulate_records` needs nothing else."""

    cases: tuple[int, ...]
    min_choices: int
    max_choices: int
    frequency: str = Batch.Frequency.DAILY  # "daily" or "once"
    batch: int = 0  # the batch's number, for the Scenario and messages


def offer_for(batch: Batch, end: datetime) -> Offer:
    """The batch's offer as the site decides it when the poll ends: its votable cases
    (`cases.catalogue`) and choice limits (`ballots.rules`)."""
    numbers = tuple(case.number for case in load_catalogue(batch).votable)
    rules = voting_rules(batch, len(numbers), end)
    return Offer(
        cases=numbers,
        min_choices=rules.min_choices,
        max_choices=rules.max_choices,
        frequency=Batch.Frequency(batch.frequency),
        batch=batch.number,
    )


def random_for(seed: int, part: str) -> random.Random:
    """An independent, reproducible generator per part of the simulation.

    Not for secrets (these are test data); a string seed is hashed the same way in
    every process, unlike `hash()`.
    """
    return random.Random(f"casevote-simulation:{seed}:{part}")  # noqa: S311


# --- Time --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Slot:
    start: float  # timestamp
    end: float
    weight: float


class _Calendar:
    """The simulated window as Beijing dates, each cut into hourly slots weighted by
    the diurnal curve (clipped at the window's edges)."""

    def __init__(self, start: datetime, end: datetime):
        self.start, self.end = start.timestamp(), end.timestamp()
        self.dates: list[date] = []
        self.slots: list[list[_Slot]] = []
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
            self.slots[-1].append(_Slot(slot_start, slot_end, weight))
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


class _Addresses:
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

    def province(self, rng: random.Random) -> "_Province":
        """One province's networks: a carrier NAT region, a few /16s of home lines and
        a few of the carriers' IPv6 /48s (which its honest voters share)."""
        blocks = set()
        while len(blocks) < PROVINCE_HOME_BLOCKS:
            blocks.add((rng.choice(HOME_OCTETS), rng.randrange(1, 255)))
        return _Province(
            region=rng.randrange(NAT_REGIONS),
            home_blocks=tuple(sorted(blocks)),
            ipv6=tuple(rng.sample(self.ipv6, PROVINCE_IPV6_SUBNETS)),
        )

    def province_home(self, rng: random.Random, province: "_Province") -> str:
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
            known = self.cache[raw] = ipaddress.ip_address(raw)
        return known


@dataclass(frozen=True)
class _Province:
    region: int  # carrier NAT region
    home_blocks: tuple[tuple[int, int], ...]  # first two octets of its home lines
    ipv6: tuple[str, ...]  # carrier /48s


def _share_addresses(
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


def _busiest_hour(casts: Sequence[float]) -> int:
    """The most ballots in any hour (`casts` ascending), as the site counts them."""
    busiest, first = 0, 0
    for last, cast in enumerate(casts):
        while casts[first] < cast - 3_600:
            first += 1
        busiest = max(busiest, last - first + 1)
    return busiest


def _user_agents(rng: random.Random) -> tuple[list[str], list[float]]:
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


def _lognormal(rng: random.Random, median: float, sigma: float, low: float, high: float) -> float:
    return min(high, max(low, rng.lognormvariate(math.log(median), sigma)))


def _device_id(rng: random.Random) -> str:
    return f"sim{rng.getrandbits(64):016x}"


# --- Writing -----------------------------------------------------------------------

USER_AGENT_MAX_LENGTH = Ballot._meta.get_field("user_agent").max_length


class _Sink:
    """Where the generated traffic goes: the same stream of followers, ballots and
    unfollows, whichever sink receives it. Counts ballots per kind and per case (the
    small attack sizes itself on what its case already has)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.ids: dict[str, list[int]] = {}  # per kind, honest excluded
        self.case_counts: dict[int, int] = {}

    def followers(self, kind: str, followed: Sequence[float]) -> list[int]:
        """New followers of one kind (their follow timestamps); returns their ids."""
        raise NotImplementedError

    def add(
        self,
        kind: str,
        follower_id: int,
        cast: float,
        dwell: float,
        address: network.IPAddress,
        user_agent: str,
        device_id: str,
        cases: Sequence[int],
    ) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        for number in cases:
            self.case_counts[number] = self.case_counts.get(number, 0) + 1
        self.store(kind, (follower_id, cast, dwell, address, user_agent, device_id, cases))

    def store(self, kind: str, ballot: tuple) -> None:
        raise NotImplementedError

    def finish(self, unfollowed: dict[int, float]) -> None:
        """Everything is generated; `unfollowed` maps follower ids to unfollow times."""
        raise NotImplementedError


class _DatabaseSink(_Sink):
    """Writes followers, ballots and choices through the models, in chunks.

    The rows come from the site's `new_ballot`; what is the simulator's own is only
    what a browser would have sent (times, address, user agent, device, form nonce)
    and a receipt drawn by the site's rule from a seeded generator."""

    def __init__(self, batch: Batch, seed: int, offer: Offer, chunk_size: int):
        super().__init__()
        self.batch = batch
        self.prefix = follower_prefix(batch, seed)
        self.case_ids = dict(
            Case.objects.filter(batch=batch, number__in=offer.cases).values_list("number", "pk")
        )
        self.chunk_size = chunk_size
        self.pending: list[tuple] = []
        self.written = 0
        digest = hashlib.sha256(f"{batch.number}:{seed}".encode()).digest()
        self.salt = digest[:8].hex()
        self.receipt_rng = random_for(seed, "receipts")
        self.receipts: set[str] = set()

    def followers(self, kind: str, followed: Sequence[float]) -> list[int]:
        pks: list[int] = []
        for offset in range(0, len(followed), CHUNK_SIZE):
            chunk = [
                FollowerModel(
                    backend=SIMULATED_BACKEND,
                    key=f"{self.prefix}-{kind}-{offset + i:05d}",
                    followed_at=datetime.fromtimestamp(moment, BEIJING),
                )
                for i, moment in enumerate(followed[offset : offset + CHUNK_SIZE])
            ]
            pks.extend(f.pk for f in FollowerModel.objects.bulk_create(chunk))
        return pks

    def receipt(self) -> str:
        """A reproducible receipt code, never one this run has already used (a repeat
        is as unlikely as on the site, but would lose the whole run to IntegrityError)."""
        while True:
            code = new_receipt_code(self.receipt_rng)
            if code not in self.receipts:
                self.receipts.add(code)
                return code

    def store(self, kind: str, ballot: tuple) -> None:
        self.pending.append((kind, *ballot))
        if len(self.pending) >= self.chunk_size:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        ballots = []
        for _kind, follower_id, cast, dwell, address, user_agent, device_id, _ in self.pending:
            cast_at = datetime.fromtimestamp(cast, BEIJING)
            number = self.written
            self.written += 1
            ballots.append(
                new_ballot(
                    follower_id=follower_id,
                    batch=self.batch,
                    cast_at=cast_at,
                    form_served_at=cast_at - timedelta(seconds=dwell),
                    form_nonce=f"sim{number:08x}{self.salt}",
                    ip=address,
                    user_agent=user_agent,
                    device_id=device_id,
                    receipt=self.receipt(),
                )
            )
        Ballot.objects.bulk_create(ballots)
        choices = []
        for ballot, (kind, *_, cases) in zip(ballots, self.pending, strict=True):
            if kind != HONEST:
                self.ids.setdefault(kind, []).append(ballot.pk)
            choices.extend(Choice(ballot_id=ballot.pk, case_id=self.case_ids[n]) for n in cases)
        Choice.objects.bulk_create(choices)
        self.pending.clear()

    def finish(self, unfollowed: dict[int, float]) -> None:
        """The last ballots, then the unfollow times as WeChat's pushed unfollow events
        would set them (`ballots.follow.wechat.record_event`)."""
        self.flush()
        rows = [
            FollowerModel(pk=pk, unfollowed_at=datetime.fromtimestamp(moment, BEIJING))
            for pk, moment in sorted(unfollowed.items())
        ]
        FollowerModel.objects.bulk_update(rows, ["unfollowed_at"], batch_size=CHUNK_SIZE)


class _RecordSink(_Sink):
    """Builds the `BallotRecord`s the detector would read had the poll been written
    (`ballots.evidence.load_records`): follower and ballot ids from counters, the
    networks and cut user agent as `new_ballot` stores them, Beijing-aware times.
    Repeated strings are shared between records, as `load_records` shares them."""

    def __init__(self) -> None:
        super().__init__()
        self.followed: list[float] = [0.0]  # follower id → follow timestamp; ids from 1
        self.pending: list[tuple] = []
        self.records: list[BallotRecord] = []

    def followers(self, kind: str, followed: Sequence[float]) -> list[int]:
        first = len(self.followed)
        self.followed.extend(followed)
        return list(range(first, len(self.followed)))

    def store(self, kind: str, ballot: tuple) -> None:
        ballot_id = len(self.pending) + 1
        self.pending.append((ballot_id, *ballot))
        if kind != HONEST:
            self.ids.setdefault(kind, []).append(ballot_id)

    def finish(self, unfollowed: dict[int, float]) -> None:
        followed_at: dict[int, datetime] = {}
        unfollowed_at = {
            pk: datetime.fromtimestamp(moment, BEIJING) for pk, moment in unfollowed.items()
        }
        shared: dict[str, str] = {}
        networks: dict[network.IPAddress, tuple[str, str]] = {}
        records = []
        for ballot_id, follower_id, cast, dwell, address, agent, device, cases in self.pending:
            follow = followed_at.get(follower_id)
            if follow is None:
                follow = followed_at[follower_id] = datetime.fromtimestamp(
                    self.followed[follower_id], BEIJING
                )
            nets = networks.get(address)
            if nets is None:
                net, subnet = network.address_network(address), network.address_subnet(address)
                nets = networks[address] = (
                    shared.setdefault(net, net),
                    shared.setdefault(subnet, subnet),
                )
            agent = agent[:USER_AGENT_MAX_LENGTH]
            cast_at = datetime.fromtimestamp(cast, BEIJING)
            records.append(
                BallotRecord(
                    id=ballot_id,
                    cast_at=cast_at,
                    follower_id=follower_id,
                    followed_at=follow,
                    ip_network=nets[0],
                    ip_subnet=nets[1],
                    user_agent=shared.setdefault(agent, agent),
                    device_id=shared.setdefault(device, device),
                    form_served_at=cast_at - timedelta(seconds=dwell),
                    cases=tuple(sorted(cases)),
                    unfollowed_at=unfollowed_at.get(follower_id),
                )
            )
        records.sort(key=lambda record: (record.cast_at, record.id))
        self.records = records
        self.pending.clear()


# --- The simulation ----------------------------------------------------------------


@dataclass
class _Honest:
    pk: int
    supporter_of: int | None
    daily: float
    first_day: int  # a new follower's first vote; 0 for those who followed earlier
    first_vote: float | None
    first_dwell: float
    net: str
    place: str | int  # NAT region, home address or IPv6 /64
    user_agent: str
    device_id: str
    votes: int = 0
    last_vote: float = 0.0


class _Simulation:
    def __init__(
        self,
        offer: Offer,
        seed: int,
        attacks: Sequence[str],
        traps: Sequence[str],
        days: int,
        ballots: int,
        end: datetime,
        sink: _Sink,
    ):
        self.offer, self.seed = offer, seed
        self.attacks, self.traps = list(attacks), list(traps)
        self.ballots = ballots
        self.end_at = end
        self.start_at = end - timedelta(days=days)
        self.calendar = _Calendar(self.start_at, self.end_at)
        self.once = offer.frequency == Batch.Frequency.ONCE
        # The cases a ballot may name, and how many, as the site decides them.
        numbers = list(offer.cases)
        self.min_choices, self.max_choices = offer.min_choices, offer.max_choices
        if len(numbers) < self.cases_needed() or self.min_choices > len(numbers):
            which = f"第{offer.batch}批" if offer.batch else "本批"
            raise SimulationError(
                f"{which}可投票的案例只有 {len(numbers)} 个，"
                f"这次模拟至少需要 {self.cases_needed()} 个。"
            )
        roles = random_for(seed, "roles")
        self.popularity = roles.sample(numbers, len(numbers))  # most popular first
        self.weights = [
            1 / (rank + 1) ** POPULARITY_EXPONENT for rank in range(len(self.popularity))
        ]
        self.supporter_weights = [
            1 / (rank + 1) ** SUPPORTER_POPULARITY_EXPONENT for rank in range(len(numbers))
        ]
        self.cumulative = list(_accumulate(self.weights))
        # Roles are assigned for every attack whatever is requested, so a case keeps
        # its role between runs with different --attacks.
        self.decoys = self.popularity[: roles.randint(*FARM_DECOYS)]
        lower = self.popularity[len(numbers) // 3 :]
        picked = roles.sample(lower, len(ATTACKS) + 1)
        self.all_targets = dict(zip(ATTACKS, picked, strict=False))
        self.village_case = picked[-1]
        middle = [n for n in self.popularity[2:] if n not in picked]
        self.viral_case = roles.choice(middle[: max(1, len(middle) // 2)])
        # Drawn last, so the other roles are what they were before churn existed.
        spare = [n for n in lower if n not in picked and n != self.viral_case]
        self.all_targets["churn"] = roles.choice(spare)
        self.trap_cases = {"village": self.village_case, "viral": self.viral_case}
        self.decoys_of: dict[str, list[int]] = {"farm": list(self.decoys)}
        # The newer kinds' roles, drawn after all of the above so that those stay what
        # they were; each case plays one role (the decoys aside).
        taken = {*picked, self.viral_case, self.all_targets["churn"]}

        def draw(pool: Sequence[int]) -> int:
            free = [n for n in pool if n not in taken]
            if not free:  # a small batch: any case but the decoys
                free = [n for n in self.popularity[RESIDENTIAL_DECOYS:] if n not in taken]
            number = roles.choice(free)
            taken.add(number)
            return number

        self.all_targets["small"] = draw(self.popularity[SMALL_RANKS[0] - 1 : SMALL_RANKS[1]])
        self.all_targets["residential"] = draw(lower[: max(1, len(lower) // 2)])
        self.all_targets["stealth"] = draw(lower)
        for trap in ALL_TRAPS[len(TRAPS) :]:
            self.trap_cases[trap] = draw(lower)
        self.decoys_of["residential"] = self.popularity[:RESIDENTIAL_DECOYS]
        self.addresses = _Addresses(random_for(seed, "addresses"), ballots)
        self.user_agents, ua_weights = _user_agents(random_for(seed, "user-agents"))
        self.ua_weights = ua_weights
        self.ua_cumulative = list(_accumulate(ua_weights))
        self.wechat_cumulative = self.ua_cumulative[:WECHAT_USER_AGENTS]
        self.writer = sink
        self.followers = 0
        self.unfollowed: dict[int, float] = {}  # follower pk → when they unfollowed

    @staticmethod
    def cases_needed() -> int:
        return max(*FARM_DECOYS, RESIDENTIAL_DECOYS) + len(ALL_ATTACKS) + len(ALL_TRAPS) + 2

    def run(self) -> Scenario:
        self.honest()
        requested = {*self.attacks, *self.traps}
        for kind in RUN_ORDER:
            if kind in requested:
                getattr(self, kind)()
        self.writer.finish(self.unfollowed)
        decoys_of = {a: list(self.decoys_of.get(a, [])) for a in ALL_ATTACKS if a in self.attacks}
        return Scenario(
            batch=self.offer.batch,
            seed=self.seed,
            start=self.start_at,
            end=self.end_at,
            targets={a: self.all_targets[a] for a in ALL_ATTACKS if a in self.attacks},
            decoys=list(dict.fromkeys(n for cases in decoys_of.values() for n in cases)),
            village_case=self.village_case,
            viral_case=self.viral_case,
            counts=dict(self.writer.counts),
            ballot_ids=self.writer.ids,
            followers=self.followers,
            popularity=list(self.popularity),
            trap_cases={t: self.trap_cases[t] for t in ALL_TRAPS if t in self.traps},
            decoys_of=decoys_of,
        )

    # Choices --------------------------------------------------------------------

    def popular_cases(self, rng: random.Random, count: int, given: Iterable[int] = ()) -> tuple:
        count = max(self.min_choices, min(count, self.max_choices))
        chosen = list(given)[:count]
        while len(chosen) < count:
            number = rng.choices(self.popularity, cum_weights=self.cumulative)[0]
            if number not in chosen:
                chosen.append(number)
        return tuple(sorted(chosen))

    def supporter_choice(self, rng: random.Random, own: int, single: float) -> tuple:
        if rng.random() < single:
            return self.popular_cases(rng, 1, [own])
        return self.popular_cases(rng, 1 + rng.randint(1, 3), [own])

    def browser_choice(self, rng: random.Random) -> tuple:
        sizes, weights = zip(*BROWSER_CHOICE_COUNTS, strict=True)
        return self.popular_cases(rng, rng.choices(sizes, weights=weights)[0])

    def user_agent(self, rng: random.Random) -> str:
        return rng.choices(self.user_agents, cum_weights=self.ua_cumulative)[0]

    def place(
        self, rng: random.Random, lines: random.Random | None = None
    ) -> tuple[str, str | int]:
        """Where a voter connects from: a NAT region, a home line (drawn from `lines`,
        the shared address generator by default) or an IPv6 /64."""
        names, weights = zip(*NETWORK_MIX, strict=True)
        net = rng.choices(names, weights=weights)[0]
        if net == "nat":
            return net, rng.randrange(NAT_REGIONS)
        if net == "home":
            return net, self.addresses.home(lines)
        return net, self.addresses.ipv6_prefix(rng)

    def wechat_agents(self, rng: random.Random, count: int) -> list[str]:
        """`count` different ordinary WeChat user agents, drawn by popularity."""
        agents: list[str] = []
        while len(agents) < count:
            agent = rng.choices(
                self.user_agents[:WECHAT_USER_AGENTS], cum_weights=self.wechat_cumulative
            )[0]
            if agent not in agents:
                agents.append(agent)
        return agents

    def young_agents(self) -> tuple[list[str], list[float]]:
        """Students' phones: the most popular user agents with the newest WeChat on the
        newest systems (the most popular of all if the pool has none), and weights."""
        pool = range(WECHAT_USER_AGENTS)
        young = [
            i
            for i in pool
            if any(f"MicroMessenger/{v}" in self.user_agents[i] for v in CAMPUS_WECHAT_VERSIONS)
            and any(system in self.user_agents[i] for system in CAMPUS_SYSTEMS)
        ][:CAMPUS_USER_AGENTS] or list(pool[:CAMPUS_USER_AGENTS])
        return [self.user_agents[i] for i in young], [self.ua_weights[i] for i in young]

    def in_window(self, cast: float) -> bool:
        return self.calendar.start <= cast < self.calendar.end

    def working_day(self, rng: random.Random) -> int:
        """An inner date that is a weekday when there is one."""
        dates = self.calendar.dates
        inner = range(1, len(dates) - 1) if len(dates) > 2 else range(len(dates))
        weekdays = [day for day in inner if dates[day].weekday() < 5]
        return rng.choice(weekdays or list(inner))

    def address(self, rng: random.Random, net: str, place: str | int) -> network.IPAddress:
        if net == "nat":
            raw = self.addresses.nat_address(rng, place)
        elif net == "home":
            raw = place
        else:
            raw = self.addresses.ipv6_address(rng, place)
        return self.addresses.parse(raw)

    def dwell(self, rng: random.Random, first: bool) -> float:
        median, sigma = DWELL_FIRST if first else DWELL_RETURNING
        return _lognormal(rng, median, sigma, DWELL_SHORTEST, settings.CASEVOTE_FORM_MAX_AGE)

    def earlier_follow(self, rng: random.Random) -> float:
        return self.calendar.start - rng.uniform(86_400, 700 * 86_400)

    def follow_lag(self, rng: random.Random) -> float:
        return _lognormal(rng, *FOLLOW_LAG, FOLLOW_LAG_MIN, 3_600)

    def honest_unfollows(self, kind: str, last_votes: dict[int, float]) -> None:
        """A few honest followers unfollow days after their last vote (follower pk →
        its time); an unfollow after the window's end is not known yet. Its own
        generator, so the rest of the poll is what it was before unfollows existed."""
        rng = random_for(self.seed, f"{kind}-unfollows")
        median, sigma = HONEST_UNFOLLOW_DAYS
        for pk, last in last_votes.items():
            if rng.random() >= HONEST_UNFOLLOW_SHARE:
                continue
            moment = last + rng.lognormvariate(math.log(median), sigma) * 86_400
            if moment < self.calendar.end:
                self.unfollowed[pk] = moment

    # Honest traffic ---------------------------------------------------------------

    def honest(self) -> None:
        rng = random_for(self.seed, HONEST)
        calendar = self.calendar
        once = self.once
        profiles: list[_Honest] = []
        followed: list[float] = []
        expected = 0.0
        while expected < self.ballots:
            supporter = rng.random() < SUPPORTER_SHARE
            own = (
                rng.choices(self.popularity, weights=self.supporter_weights)[0]
                if supporter
                else None
            )
            daily = rng.uniform(*(SUPPORTER_DAILY if supporter else BROWSER_DAILY))
            net, place = self.place(rng)
            profile = _Honest(
                pk=0,
                supporter_of=own,
                daily=daily,
                first_day=0,
                first_vote=None,
                first_dwell=self.dwell(rng, first=True),
                net=net,
                place=place,
                user_agent=self.user_agent(rng),
                device_id=_device_id(rng),
            )
            if rng.random() < NEW_FOLLOWER_SHARE:
                profile.first_day = calendar.day_weighted(rng)
                profile.first_vote = calendar.moment(rng, profile.first_day)
                followed.append(profile.first_vote - profile.first_dwell - self.follow_lag(rng))
                later = sum(calendar.mass[profile.first_day + 1 :])
                expected += 1 if once else 1 + daily * later
            else:
                followed.append(self.earlier_follow(rng))
                stay_away = math.prod(1 - daily * mass for mass in calendar.mass)
                expected += (1 - stay_away) if once else daily * sum(calendar.mass)
            profiles.append(profile)
        for profile, pk in zip(profiles, self.writer.followers(HONEST, followed), strict=True):
            profile.pk = pk
        self.followers += len(profiles)

        for day in range(len(calendar.dates)):
            for profile in profiles:
                if day < profile.first_day or (once and profile.votes):
                    continue
                if day == profile.first_day and profile.first_vote is not None:
                    cast = profile.first_vote
                elif rng.random() < profile.daily * calendar.mass[day]:
                    cast = calendar.moment(rng, day)
                else:
                    continue
                if profile.supporter_of is not None:
                    cases = self.supporter_choice(
                        rng, profile.supporter_of, SUPPORTER_SINGLE_CHOICE
                    )
                else:
                    cases = self.browser_choice(rng)
                self.writer.add(
                    HONEST,
                    profile.pk,
                    cast,
                    profile.first_dwell if profile.votes == 0 else self.dwell(rng, first=False),
                    self.address(rng, profile.net, profile.place),
                    profile.user_agent,
                    profile.device_id,
                    cases,
                )
                profile.votes += 1
                profile.last_vote = cast
        self.honest_unfollows(HONEST, {p.pk: p.last_vote for p in profiles if p.votes})

    # Traps ------------------------------------------------------------------------

    def arrivals(
        self, rng: random.Random, count: int, begin: float, mean_minutes: float, hours: float
    ) -> list[float]:
        """Human arrivals after a message: exponential delays, cut at `hours`."""
        times = []
        while len(times) < count:
            delay = rng.expovariate(1 / (mean_minutes * 60))
            if delay < hours * 3600:
                times.append(begin + delay)
        return sorted(times)

    def one_time_voters(
        self,
        kind: str,
        rng: random.Random,
        casts: Sequence[float],
        dwells: Sequence[float],
        follow: Callable[[float, float], float],
    ) -> list[int]:
        """One new follower per ballot; `follow(cast, dwell)` says when they followed."""
        followed = [follow(cast, dwell) for cast, dwell in zip(casts, dwells, strict=True)]
        pks = self.writer.followers(kind, followed)
        self.followers += len(pks)
        return pks

    def village(self) -> None:
        """One Wi-Fi in a village, one evening: real phones, human pace, several cases."""
        rng = random_for(self.seed, "village")
        count = rng.randint(*VILLAGE_BALLOTS)
        day = self.calendar.inner_day(rng)
        begin = self.calendar.fit(
            self.calendar.local(day, rng.uniform(18.0, 19.5)), VILLAGE_HOURS * 3600
        )
        casts = self.arrivals(rng, count, begin, VILLAGE_ARRIVAL_MINUTES, VILLAGE_HOURS)
        dwells = [self.dwell(rng, first=True) for _ in casts]
        wifi = self.addresses.parse(self.addresses.home())

        def follow(cast: float, dwell: float) -> float:
            if rng.random() < VILLAGE_NEW_FOLLOWERS:
                return cast - dwell - self.follow_lag(rng)
            return self.earlier_follow(rng)

        pks = self.one_time_voters("village", rng, casts, dwells, follow)
        self.honest_unfollows("village", dict(zip(pks, casts, strict=True)))
        for pk, cast, dwell in zip(pks, casts, dwells, strict=True):
            cases = self.supporter_choice(rng, self.village_case, VILLAGE_SINGLE_CHOICE)
            self.writer.add(
                "village", pk, cast, dwell, wifi, self.user_agent(rng), _device_id(rng), cases
            )

    def viral(self) -> None:
        """A case in the news at lunchtime: thousands of new voters over an afternoon."""
        rng = random_for(self.seed, "viral")
        count = max(VIRAL_MIN_BALLOTS, round(self.ballots * VIRAL_SHARE))
        day = self.calendar.inner_day(rng)
        begin = self.calendar.fit(self.calendar.local(day, rng.uniform(11, 13)), VIRAL_HOURS * 3600)
        casts = self.arrivals(rng, count, begin, VIRAL_ARRIVAL_MINUTES, VIRAL_HOURS)
        dwells = [self.dwell(rng, first=True) for _ in casts]

        def follow(cast: float, dwell: float) -> float:
            if rng.random() < VIRAL_NEW_FOLLOWERS:
                return cast - dwell - self.follow_lag(rng)
            return self.earlier_follow(rng)

        pks = self.one_time_voters("viral", rng, casts, dwells, follow)
        self.honest_unfollows("viral", dict(zip(pks, casts, strict=True)))
        for pk, cast, dwell in zip(pks, casts, dwells, strict=True):
            net, place = self.place(rng)
            cases = self.supporter_choice(rng, self.viral_case, VIRAL_SINGLE_CHOICE)
            self.writer.add(
                "viral",
                pk,
                cast,
                dwell,
                self.address(rng, net, place),
                self.user_agent(rng),
                _device_id(rng),
                cases,
            )

    def workplace(self) -> None:
        """A workplace NAT's morning rush: at 08:30 on a weekday the boss asks the staff
        group to vote; they do on their own phones from the office Wi-Fi (one NAT
        address, a second in its /24 if an hour would hold more than the site's hourly
        budget), half of them following first."""
        rng = random_for(self.seed, "workplace")
        case = self.trap_cases["workplace"]
        count = rng.randint(*WORKPLACE_BALLOTS)
        day = self.working_day(rng)
        message = self.calendar.local(day, rng.uniform(*WORKPLACE_MESSAGE_HOURS))
        hours = (self.calendar.local(day, WORKPLACE_UNTIL_HOUR) - message) / 3600
        begin = self.calendar.fit(message, hours * 3600)
        casts = self.arrivals(rng, count, begin, WORKPLACE_ARRIVAL_MINUTES, hours)
        dwells = [self.dwell(rng, first=True) for _ in casts]

        def follow(cast: float, dwell: float) -> float:
            if rng.random() < WORKPLACE_NEW_FOLLOWERS:
                return cast - dwell - self.follow_lag(rng)
            return self.earlier_follow(rng)

        pks = self.one_time_voters("workplace", rng, casts, dwells, follow)
        self.honest_unfollows("workplace", dict(zip(pks, casts, strict=True)))
        office = self.addresses.new_subnet(HOME_OCTETS, rng)
        hosts = iter(rng.sample(range(2, 254), 250))
        budget = settings.CASEVOTE_IP_HOURLY_BUDGET
        gateway = [
            f"{office}.{next(hosts)}" for _ in range(math.ceil(_busiest_hour(casts) / budget))
        ]
        addresses = _share_addresses(rng, casts, gateway, lambda: f"{office}.{next(hosts)}", budget)
        for pk, cast, dwell, address in zip(pks, casts, dwells, addresses, strict=True):
            cases = self.supporter_choice(rng, case, WORKPLACE_SINGLE_CHOICE)
            self.writer.add(
                "workplace",
                pk,
                cast,
                dwell,
                self.addresses.parse(address),
                self.user_agent(rng),
                _device_id(rng),
                cases,
            )

    def loyal(self) -> None:
        """A loyal base: residents who vote for their case on almost every day, each at
        their habit hour, on the same phone from their own line, mostly for it alone,
        and quickly: they know the page by heart."""
        rng = random_for(self.seed, "loyal")
        case = self.trap_cases["loyal"]
        first, last = (int(hour) for hour in LOYAL_HABIT_HOURS)
        hours = range(first, last)
        people = []
        for _ in range(rng.randint(*LOYAL_VOTERS)):
            net, place = self.place(rng, lines=rng)
            habit = rng.choices(hours, weights=[HOUR_WEIGHTS[h] for h in hours])[0]
            people.append((net, place, self.user_agent(rng), _device_id(rng), habit + rng.random()))
        pks = self.writer.followers("loyal", [self.earlier_follow(rng) for _ in people])
        self.followers += len(pks)
        last_votes: dict[int, float] = {}
        for day in range(len(self.calendar.dates)):
            for pk, (net, place, agent, device, habit) in zip(pks, people, strict=True):
                if (self.once and pk in last_votes) or rng.random() >= LOYAL_DAILY:
                    continue
                spread = rng.uniform(-LOYAL_SPREAD_HOURS, LOYAL_SPREAD_HOURS)
                cast = self.calendar.local(day, habit + spread)
                if not self.in_window(cast):
                    continue
                dwell = _lognormal(
                    rng, *LOYAL_DWELL, DWELL_SHORTEST, settings.CASEVOTE_FORM_MAX_AGE
                )
                cases = self.supporter_choice(rng, case, LOYAL_SINGLE_CHOICE)
                address = self.address(rng, net, place)
                self.writer.add("loyal", pk, cast, dwell, address, agent, device, cases)
                last_votes[pk] = cast
        self.honest_unfollows("loyal", last_votes)

    def province(self) -> None:
        """A case popular in one province: ordinary supporters over the whole window,
        all on that province's networks (its carrier NAT region, home lines and IPv6)."""
        rng = random_for(self.seed, "province")
        case = self.trap_cases["province"]
        wanted = rng.randint(*PROVINCE_BALLOTS)
        area = self.addresses.province(rng)
        calendar = self.calendar
        names, weights = zip(*NETWORK_MIX, strict=True)
        voters: list[tuple] = []  # (followed, net, place, user agent, device, votes)
        total = 0
        while total < wanted:
            net = rng.choices(names, weights=weights)[0]
            if net == "nat":
                place: str | int = area.region
            elif net == "home":
                place = self.addresses.province_home(rng, area)
            else:
                place = f"{rng.choice(area.ipv6)}:{rng.getrandbits(16):x}"
            daily = rng.uniform(*SUPPORTER_DAILY)
            votes: list[tuple[float, float]] = []  # (cast, dwell)
            if rng.random() < NEW_FOLLOWER_SHARE:
                first_day = calendar.day_weighted(rng)
                votes.append((calendar.moment(rng, first_day), self.dwell(rng, first=True)))
                followed = votes[0][0] - votes[0][1] - self.follow_lag(rng)
                first_day += 1
            else:
                first_day, followed = 0, self.earlier_follow(rng)
            for day in range(first_day, len(calendar.dates)):
                if self.once and votes:
                    break
                if rng.random() < daily * calendar.mass[day]:
                    votes.append((calendar.moment(rng, day), self.dwell(rng, first=not votes)))
            votes = votes[: wanted - total]
            if votes:
                voters.append((followed, net, place, self.user_agent(rng), _device_id(rng), votes))
                total += len(votes)
        pks = self.writer.followers("province", [voter[0] for voter in voters])
        self.followers += len(pks)
        for pk, (_, net, place, agent, device, votes) in zip(pks, voters, strict=True):
            for cast, dwell in votes:
                cases = self.supporter_choice(rng, case, SUPPORTER_SINGLE_CHOICE)
                address = self.address(rng, net, place)
                self.writer.add("province", pk, cast, dwell, address, agent, device, cases)
        self.honest_unfollows(
            "province", {pk: voter[-1][-1][0] for pk, voter in zip(pks, voters, strict=True)}
        )

    def campus(self) -> None:
        """A university campus: the case goes round the class groups over two evenings;
        students vote on their (new) phones through the campus network's few NAT
        addresses, most of them following first; some vote again the next evening."""
        rng = random_for(self.seed, "campus")
        case = self.trap_cases["campus"]
        calendar = self.calendar
        day = calendar.inner_day(rng)
        evenings = [day, day + 1] if day + 1 < len(calendar.dates) else [max(0, day - 1), day]
        students = rng.randint(*CAMPUS_STUDENTS)
        first_evening = round(students * CAMPUS_FIRST_EVENING)

        def arrivals(evening: int, count: int) -> list[float]:
            opens, closes = (calendar.local(evening, hour) for hour in CAMPUS_EVENING)
            messages = [
                calendar.local(evening, rng.uniform(CAMPUS_EVENING[0], CAMPUS_MESSAGE_LATEST))
                for _ in range(rng.randint(*CAMPUS_MESSAGES))
            ]
            casts: list[float] = []
            while len(casts) < count:
                cast = rng.choice(messages) + rng.expovariate(1 / (CAMPUS_ARRIVAL_MINUTES * 60))
                if opens <= cast < closes:
                    casts.append(cast)
            return casts

        again = 0 if self.once or evenings[0] == evenings[1] else CAMPUS_AGAIN
        plans = [[cast] for cast in arrivals(evenings[0], first_evening)]
        returning = [plan for plan in plans if rng.random() < again]
        later = arrivals(evenings[1], students - first_evening + len(returning))
        plans.extend([cast] for cast in later[len(returning) :])
        for plan, cast in zip(returning, later, strict=False):
            plan.append(cast)
        plans = [[cast for cast in plan if self.in_window(cast)] for plan in plans]
        plans = [plan for plan in plans if plan]
        dwells = [[self.dwell(rng, first=i == 0) for i in range(len(plan))] for plan in plans]

        def follow(plan: list[float], dwell: list[float]) -> float:
            if rng.random() < CAMPUS_NEW_FOLLOWERS:
                return plan[0] - dwell[0] - self.follow_lag(rng)
            return self.earlier_follow(rng)

        followed = [follow(plan, dwell) for plan, dwell in zip(plans, dwells, strict=True)]
        pks = self.writer.followers("campus", followed)
        self.followers += len(pks)
        agents, weights = self.young_agents()
        phones = [(rng.choices(agents, weights=weights)[0], _device_id(rng)) for _ in plans]
        ballots = sorted(
            (cast, dwell, pk, phone)
            for pk, plan, dwell_plan, phone in zip(pks, plans, dwells, phones, strict=True)
            for cast, dwell in zip(plan, dwell_plan, strict=True)
        )
        subnets = [
            self.addresses.new_subnet(CAMPUS_OCTETS, rng)
            for _ in range(rng.randint(*CAMPUS_SUBNETS))
        ]
        used: set[str] = set()

        def another(subnet: str | None = None) -> str:
            subnet = subnet or rng.choice(subnets)
            while True:
                address = f"{subnet}.{rng.randrange(2, 254)}"
                if address not in used:
                    used.add(address)
                    return address

        gateway = [another(net) for net in subnets for _ in range(CAMPUS_ADDRESSES_PER_SUBNET)]
        budget = settings.CASEVOTE_IP_HOURLY_BUDGET
        addresses = _share_addresses(rng, [b[0] for b in ballots], gateway, another, budget)
        for (cast, dwell, pk, (agent, device)), address in zip(ballots, addresses, strict=True):
            cases = self.supporter_choice(rng, case, CAMPUS_SINGLE_CHOICE)
            parsed = self.addresses.parse(address)
            self.writer.add("campus", pk, cast, dwell, parsed, agent, device, cases)
        self.honest_unfollows("campus", {pk: plan[-1] for pk, plan in zip(pks, plans, strict=True)})

    # Attacks ----------------------------------------------------------------------

    def single(self, rng: random.Random, target: int) -> tuple:
        """The target alone (padded with popular cases if the batch demands more)."""
        return self.popular_cases(rng, 1, [target])

    def script(self) -> None:
        """One address, one user agent, a vote every ~40 s, single-choice, no reading."""
        rng = random_for(self.seed, "script")
        target = self.all_targets["script"]
        count = rng.randint(*SCRIPT_BALLOTS)
        gap = rng.uniform(*SCRIPT_GAP_SECONDS)
        day = self.calendar.inner_day(rng)
        begin = self.calendar.fit(self.calendar.local(day, rng.uniform(9, 16)), count * gap * 1.1)
        casts, moment = [], begin
        for _ in range(count):
            casts.append(moment)
            moment += gap * (1 + rng.uniform(-SCRIPT_JITTER, SCRIPT_JITTER))
        dwells = [rng.uniform(*SCRIPT_DWELL) for _ in casts]
        bought = begin - rng.uniform(3_600, 3 * 3_600)  # accounts followed in one go
        pks = self.one_time_voters(
            "script", rng, casts, dwells, lambda c, d: bought + rng.uniform(0, 600)
        )
        server = self.addresses.parse(f"{self.addresses.datacenter_subnets(1)[0]}.17")
        cases = self.single(rng, target)
        for pk, cast, dwell in zip(pks, casts, dwells, strict=True):
            self.writer.add(
                "script", pk, cast, dwell, server, SCRIPT_USER_AGENT, _device_id(rng), cases
            )

    def proxy(self) -> None:
        """A rotating proxy pool: a new datacenter address per ballot, a few spoofed
        user agents, accounts that followed seconds before voting, single-choice."""
        rng = random_for(self.seed, "proxy")
        target = self.all_targets["proxy"]
        count = rng.randint(*PROXY_BALLOTS)
        few = rng.random() < 0.5
        subnets = self.addresses.datacenter_subnets(PROXY_FEW_SUBNETS if few else count // 3)
        mean_gap = rng.uniform(*PROXY_MEAN_GAP_SECONDS)
        day = self.calendar.inner_day(rng)
        begin = self.calendar.fit(
            self.calendar.local(day, rng.uniform(10, 20)), count * mean_gap * 2
        )
        casts, moment = [], begin
        for _ in range(count):
            moment += rng.expovariate(1 / mean_gap)
            casts.append(moment)
        dwells = [rng.uniform(*PROXY_DWELL) for _ in casts]
        pks = self.one_time_voters(
            "proxy", rng, casts, dwells, lambda c, d: c - d - rng.uniform(*PROXY_FOLLOW_LEAD)
        )
        agents = rng.sample(self.user_agents[:WECHAT_USER_AGENTS], PROXY_USER_AGENTS)
        used: set[str] = set()
        cases = self.single(rng, target)
        for pk, cast, dwell in zip(pks, casts, dwells, strict=True):
            raw = f"{rng.choice(subnets)}.{rng.randrange(2, 255)}"
            while raw in used:
                raw = f"{rng.choice(subnets)}.{rng.randrange(2, 255)}"
            used.add(raw)
            self.writer.add(
                "proxy",
                pk,
                cast,
                dwell,
                self.addresses.parse(raw),
                rng.choice(agents),
                _device_id(rng),
                cases,
            )

    def farm(self) -> None:
        """A night click farm: a room of phones, hundreds of fresh accounts in 40
        minutes, always the same cases — the target and popular decoys."""
        rng = random_for(self.seed, "farm")
        target = self.all_targets["farm"]
        count = rng.randint(*FARM_BALLOTS)
        day = self.calendar.inner_day(rng)
        begin = self.calendar.fit(
            self.calendar.local(day, rng.uniform(1.0, 2.5)), FARM_MINUTES * 60
        )
        casts = sorted(begin + rng.uniform(0, FARM_MINUTES * 60) for _ in range(count))
        dwells = [rng.uniform(*FARM_DWELL) for _ in casts]
        pks = self.one_time_voters(
            "farm", rng, casts, dwells, lambda c, d: c - d - rng.uniform(*FARM_FOLLOW_LEAD)
        )
        models = rng.sample(self.user_agents[:WECHAT_USER_AGENTS], FARM_PHONE_MODELS)
        phones = [(rng.choice(models), _device_id(rng)) for _ in range(rng.randint(*FARM_PHONES))]
        lines = [
            self.addresses.parse(self.addresses.home()) for _ in range(rng.randint(*FARM_ADDRESSES))
        ]
        cases = self.popular_cases(rng, 1 + len(self.decoys), [target, *self.decoys])
        for pk, cast, dwell in zip(pks, casts, dwells, strict=True):
            agent, device = rng.choice(phones)
            self.writer.add("farm", pk, cast, dwell, rng.choice(lines), agent, device, cases)

    def drip(self) -> None:
        """A slow drip: a ballot every 12–28 minutes around the clock for the whole
        window, from a few home lines and phones, fresh accounts, single-choice."""
        rng = random_for(self.seed, "drip")
        target = self.all_targets["drip"]
        casts, moment = [], self.calendar.start + rng.uniform(0, 1_800)
        while moment < self.calendar.end - 60:
            casts.append(moment)
            moment += rng.uniform(*DRIP_GAP_MINUTES) * 60
        dwells = [rng.uniform(*DRIP_DWELL) for _ in casts]
        pks = self.one_time_voters(
            "drip", rng, casts, dwells, lambda c, d: c - d - rng.uniform(*DRIP_FOLLOW_LEAD)
        )
        lines = [self.addresses.parse(self.addresses.home()) for _ in range(DRIP_ADDRESSES)]
        phones = [(self.user_agent(rng), _device_id(rng)) for _ in range(DRIP_PHONES)]
        cases = self.single(rng, target)
        for pk, cast, dwell in zip(pks, casts, dwells, strict=True):
            agent, device = rng.choice(phones)
            self.writer.add("drip", pk, cast, dwell, rng.choice(lines), agent, device, cases)

    def churn(self) -> None:
        """Paid voters: a task posted one afternoon, taken by people with a few accounts
        each on their own phones, on mobile data. Each account follows, votes for the
        target (now and then with a popular case) minutes later, and unfollows within
        hours once paid. Not in ATTACKS, so only written when asked for: on its own
        devices and networks it is caught through the unfollows."""
        rng = random_for(self.seed, "churn")
        target = self.all_targets["churn"]
        count = rng.randint(*CHURN_BALLOTS)
        day = self.calendar.inner_day(rng)
        begin = self.calendar.fit(
            self.calendar.local(day, rng.uniform(13.0, 15.0)), CHURN_HOURS * 3600
        )
        casts = sorted(begin + rng.uniform(0, CHURN_HOURS * 3600) for _ in range(count))
        dwells = [rng.uniform(*CHURN_DWELL) for _ in casts]
        pks = self.one_time_voters(
            "churn", rng, casts, dwells, lambda c, d: c - d - rng.uniform(*CHURN_FOLLOW_LEAD)
        )
        phones = []
        for _ in range(round(count / rng.uniform(*CHURN_ACCOUNTS_PER_PHONE))):
            net, place = self.place(rng)
            phones.append((self.user_agent(rng), _device_id(rng), net, place))
        for pk, cast, dwell in zip(pks, casts, dwells, strict=True):
            agent, device, net, place = rng.choice(phones)
            if rng.random() < CHURN_DECOY_SHARE:
                cases = self.popular_cases(rng, 2, [target])
            else:
                cases = self.single(rng, target)
            address = self.address(rng, net, place)
            self.writer.add("churn", pk, cast, dwell, address, agent, device, cases)
            unfollowed = cast + rng.uniform(*CHURN_UNFOLLOW_HOURS) * 3600
            if rng.random() >= CHURN_STAY and unfollowed < self.calendar.end:
                self.unfollowed[pk] = unfollowed

    def residential(self) -> None:
        """A distributed residential farm: a paid "真人投票" job with rotating residential
        and mobile addresses, over two or three days at ordinary hours. Every ballot is a
        fresh account followed about a minute before, a new device cookie and a new
        address (mostly home lines, each its own /24), a few seconds on the form, but
        only two user agents for the whole job; the target and one of the two most
        popular cases as a decoy. Not in ATTACKS: written only when asked for."""
        rng = random_for(self.seed, "residential")
        target = self.all_targets["residential"]
        decoys = self.decoys_of["residential"]
        count = max(RESIDENTIAL_MIN_BALLOTS, round(self.ballots * rng.uniform(*RESIDENTIAL_SHARE)))
        calendar = self.calendar
        span = min(len(calendar.dates), rng.randint(*RESIDENTIAL_DAYS))
        first = rng.randrange(len(calendar.dates) - span + 1)
        days = range(first, first + span)
        mass = [calendar.mass[day] for day in days]
        casts = sorted(
            calendar.moment(rng, rng.choices(days, weights=mass)[0]) for _ in range(count)
        )
        dwells = [rng.uniform(*RESIDENTIAL_DWELL) for _ in casts]
        pks = self.one_time_voters(
            "residential",
            rng,
            casts,
            dwells,
            lambda c, d: c - d - rng.uniform(*RESIDENTIAL_FOLLOW_LEAD),
        )
        agents = self.wechat_agents(rng, RESIDENTIAL_USER_AGENTS)
        used: set[str] = set()
        for pk, cast, dwell in zip(pks, casts, dwells, strict=True):
            raw = ""
            while not raw or raw in used:
                if rng.random() < RESIDENTIAL_HOME_SHARE:
                    raw = self.addresses.home(rng)
                else:
                    raw = self.addresses.mobile(rng)
            used.add(raw)
            cases = self.popular_cases(rng, 2, [target, rng.choice(decoys)])
            self.writer.add(
                "residential",
                pk,
                cast,
                dwell,
                self.addresses.parse(raw),
                rng.choice(agents),
                _device_id(rng),
                cases,
            )

    def small(self) -> None:
        """A small paid job that adds only 10–15 % to a popular case (counted on what the
        case has when everything else is generated): fresh accounts over an afternoon's
        few hours, on random mobile addresses, three user agents, single-choice. Not in
        ATTACKS: written only when asked for."""
        rng = random_for(self.seed, "small")
        target = self.all_targets["small"]
        count = max(1, round(self.writer.case_counts.get(target, 0) * rng.uniform(*SMALL_SHARE)))
        day = self.calendar.inner_day(rng)
        length = rng.uniform(*SMALL_HOURS) * 3600
        begin = self.calendar.fit(self.calendar.local(day, rng.uniform(13.0, 15.0)), length)
        casts = sorted(begin + rng.uniform(0, length) for _ in range(count))
        dwells = [rng.uniform(*SMALL_DWELL) for _ in casts]
        pks = self.one_time_voters(
            "small", rng, casts, dwells, lambda c, d: c - d - rng.uniform(*SMALL_FOLLOW_LEAD)
        )
        agents = self.wechat_agents(rng, SMALL_USER_AGENTS)
        cases = self.single(rng, target)
        for pk, cast, dwell in zip(pks, casts, dwells, strict=True):
            address = self.addresses.parse(self.addresses.mobile(rng))
            self.writer.add(
                "small", pk, cast, dwell, address, rng.choice(agents), _device_id(rng), cases
            )

    def stealth(self) -> None:
        """A human-paced stealth farm: some sixty people recruited months ago vote on most
        days at human hours, each on their own phone from their own home line, at a
        reader's pace, for the target and a few popular cases, like supporters. Expected
        to slip through; not in ATTACKS: written only when asked for."""
        rng = random_for(self.seed, "stealth")
        target = self.all_targets["stealth"]
        calendar = self.calendar
        people = [
            (
                self.addresses.parse(self.addresses.home(rng)),
                self.user_agent(rng),
                _device_id(rng),
                rng.uniform(*STEALTH_DAILY),
            )
            for _ in range(rng.randint(*STEALTH_PEOPLE))
        ]
        followed = [calendar.start - rng.uniform(*STEALTH_FOLLOWED_DAYS) * 86_400 for _ in people]
        pks = self.writer.followers("stealth", followed)
        self.followers += len(pks)
        voted: set[int] = set()
        for day in range(len(calendar.dates)):
            for pk, (line, agent, device, daily) in zip(pks, people, strict=True):
                if (self.once and pk in voted) or rng.random() >= daily * calendar.mass[day]:
                    continue
                cast = calendar.moment(rng, day)
                cases = self.popular_cases(rng, 1 + rng.randint(*STEALTH_EXTRA_CASES), [target])
                dwell = self.dwell(rng, first=False)
                self.writer.add("stealth", pk, cast, dwell, line, agent, device, cases)
                voted.add(pk)


def fastest_dwell() -> float:
    """The shortest time any simulated reader spends on the form, attacks included."""
    return min(
        DWELL_SHORTEST,
        SCRIPT_DWELL[0],
        PROXY_DWELL[0],
        FARM_DWELL[0],
        DRIP_DWELL[0],
        CHURN_DWELL[0],
        RESIDENTIAL_DWELL[0],
        SMALL_DWELL[0],
    )


def _accumulate(values: Iterable[float]) -> Iterable[float]:
    running = 0.0
    for value in values:
        running += value
        yield running


def follower_prefix(batch: Batch, seed: int) -> str:
    return f"b{batch.number}s{seed}"


def already_simulated(batch: Batch, seed: int) -> bool:
    return FollowerModel.objects.filter(
        backend=SIMULATED_BACKEND, key__startswith=f"{follower_prefix(batch, seed)}-"
    ).exists()


def has_real_ballots(batch: Batch) -> bool:
    return Ballot.objects.filter(batch=batch).exclude(follower__backend=SIMULATED_BACKEND).exists()


def _check(attacks: Sequence[str], traps: Sequence[str], days: int, ballots: int, end: datetime):
    """Refuse what cannot be simulated, with a message for the command's user."""
    for names, known, what in ((attacks, ALL_ATTACKS, "攻击"), (traps, ALL_TRAPS, "陷阱")):
        unknown = sorted(set(names) - set(known))
        if unknown:
            raise SimulationError(
                f"未知的{what}类型：{', '.join(unknown)}。可选：{', '.join(known)}。"
            )
    if days < 1 or ballots < 1:
        raise SimulationError("天数和选票数都必须是正整数。")
    if end.tzinfo is None:
        raise SimulationError("结束时间必须带时区。")
    minimum = settings.CASEVOTE_MIN_DWELL_SECONDS
    if fastest_dwell() < minimum:
        raise SimulationError(
            f"本站要求选票表单至少停留 {minimum} 秒（CASEVOTE_MIN_DWELL_SECONDS），"
            f"模拟中最快的只停留 {fastest_dwell()} 秒，本站不会收下这样的选票。"
        )


def simulate(
    batch: Batch,
    *,
    seed: int,
    attacks: Sequence[str] = ATTACKS,
    traps: Sequence[str] = TRAPS,
    days: int = DEFAULT_DAYS,
    ballots: int = DEFAULT_BALLOTS,
    end: datetime,
    chunk_size: int = CHUNK_SIZE,
) -> Scenario:
    """Write a simulated poll for `batch` ending at `end`; all or nothing.

    `ballots` is the honest background (about that many; the traps and attacks come
    on top). Raises SimulationError when the batch cannot hold the scenario or this
    seed was already simulated for it. Checking for real ballots is the caller's
    business (the command refuses without --force).
    """
    _check(attacks, traps, days, ballots, end)
    if already_simulated(batch, seed):
        raise SimulationError(
            f"第{batch.number}批已经用种子 {seed} 模拟过，换一个 --seed（模拟数据不会被删除）。"
        )
    offer = offer_for(batch, end)
    with transaction.atomic():
        sink = _DatabaseSink(batch, seed, offer, chunk_size)
        return _Simulation(offer, seed, attacks, traps, days, ballots, end, sink).run()


def simulate_records(
    offer: Offer,
    *,
    seed: int,
    attacks: Sequence[str] = ATTACKS,
    traps: Sequence[str] = TRAPS,
    days: int = DEFAULT_DAYS,
    ballots: int = DEFAULT_BALLOTS,
    end: datetime,
) -> tuple[Scenario, list[BallotRecord]]:
    """The same poll as `simulate` would write for a batch with this offer, as the
    detector's records (sorted by cast time, then id), without a database: for
    running the detector over hundreds of polls. Follower and ballot ids count from
    1; `Scenario.ballot_ids` holds the records' ids."""
    _check(attacks, traps, days, ballots, end)
    if offer.frequency not in Batch.Frequency.values:
        raise SimulationError(f"未知的投票频率：{offer.frequency}。")
    sink = _RecordSink()
    scenario = _Simulation(offer, seed, attacks, traps, days, ballots, end, sink).run()
    return scenario, sink.records
