"""Where the generated traffic goes: the database (through the site's models and
`new_ballot`) or the detector's records in memory. The same stream either way."""

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta

from ballots import network
from ballots.detection import BallotRecord
from ballots.models import Ballot, Choice, new_receipt_code
from ballots.models import Follower as FollowerModel
from ballots.services import new_ballot
from cases.models import Batch, Case
from tools.simulation.parameters import BEIJING, CHUNK_SIZE, HONEST, SIMULATED_BACKEND
from tools.simulation.scenario import Offer, random_for


def follower_prefix(batch: Batch, seed: int) -> str:
    return f"b{batch.number}s{seed}"


USER_AGENT_MAX_LENGTH = Ballot._meta.get_field("user_agent").max_length


class Sink:
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


class DatabaseSink(Sink):
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


class RecordSink(Sink):
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
