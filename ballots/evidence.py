"""Loading the detector's input from the database, and running it for a batch.

`ballots.detection` is pure; this is the one place that reads its input from the
database. `load_columns` is what the detector and the stored runs read: compact
columns (ballots/detection/columns.py), a million ballots in tens of MB, from two
streamed queries (the ballots in cast order, device cookies numbered by the
database; then the choice rows in ballot order). `load_records` gives the same
ballots as `BallotRecord`s, for tests and small polls: ballots joined to their
follower's follow and unfollow times, then choice rows as (ballot id, case number),
with repeated strings shared.
"""

from array import array
from collections import defaultdict
from datetime import datetime
from itertools import batched, repeat

from django.db import models, transaction
from django.db.models.functions import DenseRank

from ballots.detection import BallotRecord, CaseReport, detect
from ballots.detection.columns import Columns
from ballots.models import Ballot, Choice
from cases.models import Batch, Case

# Both loaders read in chunks through a server-side cursor, inside a transaction: a
# cursor declared outside one would be WITH HOLD, which a transaction-pooling PgBouncer
# cannot keep (the next chunk may go to another server connection).
CHUNK_SIZE = 20_000
# Rows held at once while loading columns: a chunk's rows, as Python objects, are
# most of the loader's own memory.
COLUMNS_CHUNK_SIZE = 5_000


@transaction.atomic
def load_records(batch: Batch, *, include_void: bool = False) -> list[BallotRecord]:
    """The batch's valid ballots (and void ones too if asked) in cast order."""
    ballots = Ballot.objects.filter(batch=batch)
    choices = Choice.objects.filter(ballot__batch=batch)
    if not include_void:
        ballots = ballots.filter(status=Ballot.Status.VALID)
        choices = choices.filter(ballot__status=Ballot.Status.VALID)

    chosen: dict[int, list[int]] = defaultdict(list)
    for ballot_id, number in (
        choices.order_by().values_list("ballot_id", "case__number").iterator(chunk_size=CHUNK_SIZE)
    ):
        chosen[ballot_id].append(number)

    shared: dict[str, str] = {}
    records = []
    rows = (
        ballots.order_by("cast_at", "pk")
        .values_list(
            "pk",
            "cast_at",
            "follower_id",
            "follower__followed_at",
            "follower__unfollowed_at",
            "ip_network",
            "ip_subnet",
            "user_agent",
            "device_id",
            "form_served_at",
        )
        .iterator(chunk_size=CHUNK_SIZE)
    )
    unfollows: dict[int, datetime] = {}
    for (
        pk,
        cast_at,
        follower_id,
        followed_at,
        unfollowed_at,
        net,
        subnet,
        agent,
        device,
        served,
    ) in rows:
        if unfollowed_at is not None:
            unfollowed_at = unfollows.setdefault(follower_id, unfollowed_at)
        records.append(
            BallotRecord(
                id=pk,
                cast_at=cast_at,
                follower_id=follower_id,
                followed_at=followed_at,
                ip_network=shared.setdefault(net, net),
                ip_subnet=shared.setdefault(subnet, subnet),
                user_agent=shared.setdefault(agent, agent),
                device_id=shared.setdefault(device, device),
                form_served_at=served,
                cases=tuple(sorted(chosen.get(pk, ()))),
                unfollowed_at=unfollowed_at,
            )
        )
    return records


@transaction.atomic
def load_columns(batch: Batch, *, include_void: bool = False) -> Columns:
    """What `load_records` reads, as `Columns`: the same ballots in the same order
    (cast time, then id), without an object per ballot. What the detector reads on a
    large poll (detect_brushing, stored runs): a million ballots in tens of MB.

    The ballots come first, streamed into the columns; then the choice rows, streamed
    in ballot order so each ballot's cases arrive together, each ballot found by its
    id (`_Positions`)."""
    ballots = Ballot.objects.filter(batch=batch)
    choices = Choice.objects.filter(ballot__batch=batch)
    if not include_void:
        ballots = ballots.filter(status=Ballot.Status.VALID)
        choices = choices.filter(ballot__status=Ballot.Status.VALID)

    columns = Columns()
    # Device cookies are only ever compared, never shown: the database numbers them
    # (0 for none), so a million cookies need no dictionary of strings here.
    device_code = models.Case(
        models.When(device_id="", then=models.Value(0)),
        default=models.Window(DenseRank(), order_by=models.F("device_id").asc()),
        output_field=models.IntegerField(),
    )
    rows = (
        ballots.order_by("cast_at", "pk")
        .annotate(device_code=device_code)
        .values_list(
            "pk",
            "cast_at",
            "follower_id",
            "follower__followed_at",
            "ip_network",
            "ip_subnet",
            "user_agent",
            "device_code",
            "form_served_at",
            "follower__unfollowed_at",
        )
        .iterator(chunk_size=COLUMNS_CHUNK_SIZE)
    )
    for chunk in batched(rows, COLUMNS_CHUNK_SIZE):
        columns.extend(chunk)

    positions = _Positions(columns.id)
    cases = columns.cases  # every ballot names no case until its choices come
    cases.extend(repeat(columns.case_set(()), len(columns.id)))
    current, chosen = None, []
    ordered = choices.order_by("ballot_id").values_list("ballot_id", "case__number")
    for ballot_id, number in ordered.iterator(chunk_size=COLUMNS_CHUNK_SIZE):
        if ballot_id != current:
            positions.put(cases, current, chosen, columns)
            current, chosen = ballot_id, []
        chosen.append(number)
    positions.put(cases, current, chosen, columns)
    return columns.finish()


class _Positions:
    """Ballot id → its position in the columns: an array over the ids' range when they
    are dense enough (a batch's ballots usually are), else a dict. A ballot cast after
    the ballots were read has no position: its choices are left out, as it is."""

    DENSITY = 4  # the range may be at most this many times the ballots
    NONE = -1

    def __init__(self, ids):
        self.low = min(ids, default=0)
        span = max(ids, default=-1) - self.low + 1
        self.table: array | None = None
        self.lookup: dict[int, int] = {}
        if span <= self.DENSITY * len(ids):
            self.table = array("i", [self.NONE]) * span
            for position, ballot_id in enumerate(ids):
                self.table[ballot_id - self.low] = position
        else:
            self.lookup = {ballot_id: position for position, ballot_id in enumerate(ids)}

    def get(self, ballot_id: int) -> int:
        if self.table is None:
            return self.lookup.get(ballot_id, self.NONE)
        offset = ballot_id - self.low
        return self.table[offset] if 0 <= offset < len(self.table) else self.NONE

    def put(self, cases: array, ballot_id: int | None, chosen: list[int], columns) -> None:
        """Record a ballot's cases in the column, if the ballot was read."""
        position = self.NONE if ballot_id is None else self.get(ballot_id)
        if position != self.NONE:
            cases[position] = columns.case_set(chosen)


def case_numbers(batch: Batch) -> list[int]:
    """Every case of the batch, disqualified ones included: their ballots are evidence."""
    return list(
        Case.objects.filter(batch=batch).order_by("number").values_list("number", flat=True)
    )


def batch_reports(batch: Batch, *, include_void: bool = False) -> list[CaseReport]:
    """The detector's reports for a batch, most suspicious first."""
    return detect(load_columns(batch, include_void=include_void), case_numbers(batch))
