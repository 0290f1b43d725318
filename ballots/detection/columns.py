"""The poll's ballots as compact columns: what the detector reads, a million at a time.

A `BallotRecord` is a frozen object with three datetimes, a tuple and six fields:
about 400 bytes a ballot once its parts are counted, so a million of them were most
of the detector's memory. `Columns` keeps the same facts in one array per field:
times as integer microseconds since the epoch (so the seconds between two of them
are exactly what subtracting the datetimes gives), addresses, /24s, user agents and
device cookies as small integers (`Strings`: each distinct string once), and the
cases a ballot names as the number of its set of cases (a poll has few distinct
sets). About 60 bytes a ballot.

Built chunk by chunk in time order (`extend`, then `finish`), from `BallotRecord`s
(`from_records`, which sorts them as the detector always has: by cast time, then id)
or from the database (`ballots.evidence.load_columns`). Codes are given in order of
first appearance, so walking a column's codes in order walks its strings in the
order the ballots first used them.
"""

from array import array
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from itertools import accumulate, batched
from operator import attrgetter

from ballots.detection.records import BallotRecord

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MISSING = -(2**63)  # a time we do not know (followed_at, unfollowed_at)
BLANK = 0  # every string table's code for "" (no address, no /24)
MICROSECOND = timedelta(microseconds=1)
# A ballot's fields, as `Columns.extend` takes them (BallotRecord's, unfollowed_at last).
FIELDS = (
    "id",
    "cast_at",
    "follower_id",
    "followed_at",
    "ip_network",
    "ip_subnet",
    "user_agent",
    "device_id",
    "form_served_at",
    "unfollowed_at",
)


def microseconds(moment: datetime) -> int:
    """Microseconds since the epoch, exactly (`timestamp()` is this over 10**6)."""
    if moment.tzinfo is None:
        moment = moment.astimezone()  # as `timestamp()` reads a naive datetime
    return (moment - EPOCH) // MICROSECOND


def moment(us: int) -> datetime:
    """The aware UTC datetime of microseconds since the epoch."""
    return EPOCH + timedelta(microseconds=us)


class Interner:
    """Strings → codes while loading, in order of first appearance; "" is BLANK."""

    def __init__(self):
        self.codes: dict[str, int] = {"": BLANK}

    def codes_of(self, values: Sequence[str]) -> Iterator[int]:
        """The codes of these values, new ones given in order of first appearance."""
        codes = self.codes
        for value in dict.fromkeys(values):  # the distinct values, in order, at C speed
            if value not in codes:
                codes[value] = len(codes)
        return map(codes.__getitem__, values)

    def freeze(self) -> "Strings":
        """The table, without the dictionary: a million addresses fit in one string."""
        ordered = list(self.codes)  # insertion order: code order
        self.codes = {}
        return Strings(ordered)


class Strings:
    """Code → string, every string in one `str` with their end offsets."""

    def __init__(self, ordered: list[str]):
        self.text = "".join(ordered)
        self.ends = array("q", accumulate(map(len, ordered)))

    def __getitem__(self, code: int) -> str:
        start = self.ends[code - 1] if code else 0
        return self.text[start : self.ends[code]]

    def __len__(self) -> int:
        return len(self.ends)


class Columns:
    """One array per field of the ballots, in time order; see the module's docstring."""

    def __init__(self):
        self.id = array("q")
        self.cast = array("q")  # microseconds since the epoch
        self.follower = array("q")
        self.followed = array("q")  # MISSING when not known
        self.unfollowed = array("q")  # the follower's latest unfollow, MISSING when none
        self.served = array("q")  # when the ballot form was served
        self.network = array("i")  # codes into `networks`, BLANK for none
        self.subnet = array("i")
        self.agent = array("i")
        self.device = array("q")  # a code, or -(id + 1) for a ballot without a device cookie
        self.cases = array("i")  # codes into `case_sets`
        self.case_sets: list[tuple[int, ...]] = []
        self._set_codes: dict[tuple[int, ...], int] = {}
        self._interners = {name: Interner() for name in ("network", "subnet", "agent", "device")}
        self.networks = self.subnets = self.agents = Strings([""])

    def __len__(self) -> int:
        return len(self.id)

    def extend(self, rows: Sequence[tuple]) -> None:
        """More ballots, each a tuple in FIELDS order, later in time (or as late) than the
        ones before; their cases come with `case_set` (or `from_records`). Column by
        column, at C speed where it can: a chunk of rows at a time, not one by one.

        A device is a cookie's string, "" for none; or, from a loader that numbers
        them itself, a positive number per distinct cookie, 0 for none (all rows alike)."""
        if not rows:
            return
        (ids, cast, followers, followed, networks, subnets, agents, devices, served, unfollowed) = (
            zip(*rows, strict=True)
        )
        self.id.extend(ids)
        self.cast.extend(map(microseconds, cast))
        self.follower.extend(followers)
        self.followed.extend(MISSING if f is None else microseconds(f) for f in followed)
        self.unfollowed.extend(MISSING if u is None else microseconds(u) for u in unfollowed)
        self.served.extend(map(microseconds, served))
        interned = self._interners
        self.network.extend(interned["network"].codes_of(networks))
        self.subnet.extend(interned["subnet"].codes_of(subnets))
        self.agent.extend(interned["agent"].codes_of(agents))
        if isinstance(devices[0], int):  # numbered by the database already, 0 for none
            device_codes, devices = devices, devices
        else:
            device_codes = interned["device"].codes_of(devices)
        self.device.extend(
            code if device else -(id_ + 1)
            for code, device, id_ in zip(device_codes, devices, ids, strict=True)
        )

    def case_set(self, cases: Iterable[int]) -> int:
        """The code of a set of cases (sorted, as BallotRecord.cases)."""
        key = tuple(sorted(cases))
        code = self._set_codes.get(key)
        if code is None:
            code = self._set_codes[key] = len(self.case_sets)
            self.case_sets.append(key)
        return code

    def finish(self) -> "Columns":
        """Done appending: keep the string tables the reports quote, drop the rest."""
        interned = self._interners
        self.networks = interned["network"].freeze()
        self.subnets = interned["subnet"].freeze()
        self.agents = interned["agent"].freeze()
        interned["device"].codes = {}  # devices are only ever compared, never shown
        self._interners = {}
        self._set_codes = {}
        return self

    @classmethod
    def from_records(cls, records: Iterable[BallotRecord], chunk: int = 20_000) -> "Columns":
        columns = cls()
        fields = attrgetter(*FIELDS)
        ordered = sorted(records, key=lambda r: (r.cast_at, r.id))
        for rows in batched(ordered, chunk):
            columns.extend([fields(r) for r in rows])
            columns.cases.extend(columns.case_set(r.cases) for r in rows)
        return columns.finish()
