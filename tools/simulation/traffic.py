"""The traffic generator: honest voters, then each requested trap and attack, each
from its own seeded generator, handed to a sink ballot by ballot."""

import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from ballots import network
from cases.models import Batch
from tools.simulation.parameters import (
    ALL_ATTACKS,
    ALL_TRAPS,
    ATTACKS,
    BROWSER_CHOICE_COUNTS,
    BROWSER_DAILY,
    CAMPUS_ADDRESSES_PER_SUBNET,
    CAMPUS_AGAIN,
    CAMPUS_ARRIVAL_MINUTES,
    CAMPUS_EVENING,
    CAMPUS_FIRST_EVENING,
    CAMPUS_MESSAGE_LATEST,
    CAMPUS_MESSAGES,
    CAMPUS_NEW_FOLLOWERS,
    CAMPUS_OCTETS,
    CAMPUS_SINGLE_CHOICE,
    CAMPUS_STUDENTS,
    CAMPUS_SUBNETS,
    CAMPUS_SYSTEMS,
    CAMPUS_USER_AGENTS,
    CAMPUS_WECHAT_VERSIONS,
    CHURN_ACCOUNTS_PER_PHONE,
    CHURN_BALLOTS,
    CHURN_DECOY_SHARE,
    CHURN_DWELL,
    CHURN_FOLLOW_LEAD,
    CHURN_HOURS,
    CHURN_STAY,
    CHURN_UNFOLLOW_HOURS,
    DRIP_ADDRESSES,
    DRIP_DWELL,
    DRIP_FOLLOW_LEAD,
    DRIP_GAP_MINUTES,
    DRIP_PHONES,
    DWELL_FIRST,
    DWELL_RETURNING,
    DWELL_SHORTEST,
    FARM_ADDRESSES,
    FARM_BALLOTS,
    FARM_DECOYS,
    FARM_DWELL,
    FARM_FOLLOW_LEAD,
    FARM_MINUTES,
    FARM_PHONE_MODELS,
    FARM_PHONES,
    FOLLOW_LAG,
    FOLLOW_LAG_MIN,
    HOME_OCTETS,
    HONEST,
    HONEST_UNFOLLOW_DAYS,
    HONEST_UNFOLLOW_SHARE,
    HOUR_WEIGHTS,
    LOYAL_DAILY,
    LOYAL_DWELL,
    LOYAL_HABIT_HOURS,
    LOYAL_SINGLE_CHOICE,
    LOYAL_SPREAD_HOURS,
    LOYAL_VOTERS,
    NAT_REGIONS,
    NETWORK_MIX,
    NEW_FOLLOWER_SHARE,
    POPULARITY_EXPONENT,
    PROVINCE_BALLOTS,
    PROXY_BALLOTS,
    PROXY_DWELL,
    PROXY_FEW_SUBNETS,
    PROXY_FOLLOW_LEAD,
    PROXY_MEAN_GAP_SECONDS,
    PROXY_USER_AGENTS,
    RESIDENTIAL_DAYS,
    RESIDENTIAL_DECOYS,
    RESIDENTIAL_DWELL,
    RESIDENTIAL_FOLLOW_LEAD,
    RESIDENTIAL_HOME_SHARE,
    RESIDENTIAL_MIN_BALLOTS,
    RESIDENTIAL_SHARE,
    RESIDENTIAL_USER_AGENTS,
    RUN_ORDER,
    SCRIPT_BALLOTS,
    SCRIPT_DWELL,
    SCRIPT_GAP_SECONDS,
    SCRIPT_JITTER,
    SCRIPT_USER_AGENT,
    SMALL_DWELL,
    SMALL_FOLLOW_LEAD,
    SMALL_HOURS,
    SMALL_RANKS,
    SMALL_SHARE,
    SMALL_USER_AGENTS,
    STEALTH_DAILY,
    STEALTH_EXTRA_CASES,
    STEALTH_FOLLOWED_DAYS,
    STEALTH_PEOPLE,
    SUPPORTER_DAILY,
    SUPPORTER_POPULARITY_EXPONENT,
    SUPPORTER_SHARE,
    SUPPORTER_SINGLE_CHOICE,
    TRAPS,
    VILLAGE_ARRIVAL_MINUTES,
    VILLAGE_BALLOTS,
    VILLAGE_HOURS,
    VILLAGE_NEW_FOLLOWERS,
    VILLAGE_SINGLE_CHOICE,
    VIRAL_ARRIVAL_MINUTES,
    VIRAL_HOURS,
    VIRAL_MIN_BALLOTS,
    VIRAL_NEW_FOLLOWERS,
    VIRAL_SHARE,
    VIRAL_SINGLE_CHOICE,
    WECHAT_USER_AGENTS,
    WORKPLACE_ARRIVAL_MINUTES,
    WORKPLACE_BALLOTS,
    WORKPLACE_MESSAGE_HOURS,
    WORKPLACE_NEW_FOLLOWERS,
    WORKPLACE_SINGLE_CHOICE,
    WORKPLACE_UNTIL_HOUR,
)
from tools.simulation.scenario import Offer, Scenario, SimulationError, random_for
from tools.simulation.sinks import Sink
from tools.simulation.world import (
    Addresses,
    Calendar,
    accumulate,
    busiest_hour,
    lognormal,
    new_device_id,
    share_addresses,
    user_agent_pool,
)


@dataclass
class HonestVoter:
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


class Simulation:
    """One poll: the roles each case plays, then honest voting, then each requested trap
    and attack in `RUN_ORDER`, handed to `sink`; `run()` returns the Scenario."""

    def __init__(
        self,
        offer: Offer,
        seed: int,
        attacks: Sequence[str],
        traps: Sequence[str],
        days: int,
        ballots: int,
        end: datetime,
        sink: Sink,
    ):
        self.offer, self.seed = offer, seed
        self.attacks, self.traps = list(attacks), list(traps)
        self.ballots = ballots
        self.end_at = end
        self.start_at = end - timedelta(days=days)
        self.calendar = Calendar(self.start_at, self.end_at)
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
        self.cumulative = list(accumulate(self.weights))
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
        self.addresses = Addresses(random_for(seed, "addresses"), ballots)
        self.user_agents, ua_weights = user_agent_pool(random_for(seed, "user-agents"))
        self.ua_weights = ua_weights
        self.ua_cumulative = list(accumulate(ua_weights))
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
        """Students' phones: user agents with the newest WeChat on the newest systems
        (the most popular of all if the pool has none), equally likely. Weighting them
        by the whole market, as a first version did, handed one string half the campus
        whenever the market's top agent happened to be a young one: students' phones
        spread over models, systems and network types."""
        pool = range(WECHAT_USER_AGENTS)
        young = [
            i
            for i in pool
            if any(f"MicroMessenger/{v}" in self.user_agents[i] for v in CAMPUS_WECHAT_VERSIONS)
            and any(system in self.user_agents[i] for system in CAMPUS_SYSTEMS)
        ][:CAMPUS_USER_AGENTS] or list(pool[:CAMPUS_USER_AGENTS])
        return [self.user_agents[i] for i in young], [1.0] * len(young)

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
        return lognormal(rng, median, sigma, DWELL_SHORTEST, settings.CASEVOTE_FORM_MAX_AGE)

    def earlier_follow(self, rng: random.Random) -> float:
        return self.calendar.start - rng.uniform(86_400, 700 * 86_400)

    def follow_lag(self, rng: random.Random) -> float:
        return lognormal(rng, *FOLLOW_LAG, FOLLOW_LAG_MIN, 3_600)

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
        profiles: list[HonestVoter] = []
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
            profile = HonestVoter(
                pk=0,
                supporter_of=own,
                daily=daily,
                first_day=0,
                first_vote=None,
                first_dwell=self.dwell(rng, first=True),
                net=net,
                place=place,
                user_agent=self.user_agent(rng),
                device_id=new_device_id(rng),
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
                "village", pk, cast, dwell, wifi, self.user_agent(rng), new_device_id(rng), cases
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
                new_device_id(rng),
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
        # The office /24's host numbers in a random order: however low the budget is
        # set, there are enough for a gateway to spread its morning over.
        hosts = iter(rng.sample(range(2, 254), 250))
        budget = settings.CASEVOTE_IP_HOURLY_BUDGET
        gateway = [
            f"{office}.{next(hosts)}" for _ in range(math.ceil(busiest_hour(casts) / budget))
        ]
        addresses = share_addresses(rng, casts, gateway, lambda: f"{office}.{next(hosts)}", budget)
        for pk, cast, dwell, address in zip(pks, casts, dwells, addresses, strict=True):
            cases = self.supporter_choice(rng, case, WORKPLACE_SINGLE_CHOICE)
            self.writer.add(
                "workplace",
                pk,
                cast,
                dwell,
                self.addresses.parse(address),
                self.user_agent(rng),
                new_device_id(rng),
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
            people.append(
                (net, place, self.user_agent(rng), new_device_id(rng), habit + rng.random())
            )
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
                dwell = lognormal(rng, *LOYAL_DWELL, DWELL_SHORTEST, settings.CASEVOTE_FORM_MAX_AGE)
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
                voters.append(
                    (followed, net, place, self.user_agent(rng), new_device_id(rng), votes)
                )
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
        phones = [(rng.choices(agents, weights=weights)[0], new_device_id(rng)) for _ in plans]
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
        addresses = share_addresses(rng, [b[0] for b in ballots], gateway, another, budget)
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
                "script", pk, cast, dwell, server, SCRIPT_USER_AGENT, new_device_id(rng), cases
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
                new_device_id(rng),
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
        phones = [
            (rng.choice(models), new_device_id(rng)) for _ in range(rng.randint(*FARM_PHONES))
        ]
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
        phones = [(self.user_agent(rng), new_device_id(rng)) for _ in range(DRIP_PHONES)]
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
            phones.append((self.user_agent(rng), new_device_id(rng), net, place))
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
                new_device_id(rng),
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
                "small", pk, cast, dwell, address, rng.choice(agents), new_device_id(rng), cases
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
                new_device_id(rng),
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
