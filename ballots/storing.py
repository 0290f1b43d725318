"""Storing a ballot with its choices, within its network's hourly budget.

The rules (`ballots.services.cast_ballot`) need one thing done atomically: while the
ballot's network has its turn (`ballots.locks`), count the ballots its address and its
/24 cast in the last hour and, if neither is at its budget, insert the ballot and its
choice rows. The one-ballot-per-period constraint refuses a second ballot with an
IntegrityError; a ballot over budget is not stored at all.

On PostgreSQL — the ballot's hot path in production — that is one round trip and one
transaction: two statements sent together, which PostgreSQL runs as a single implicit
transaction (or inside the caller's, if there is one). The first takes the network's
turn; the second counts in a common table expression and inserts the ballot and its
choices only when the counts allow. Each statement takes its own snapshot under READ
COMMITTED, so the count sees every ballot committed by whoever held the turn before.
The SQL is written from the models' own columns and values (`get_db_prep_save`), so it
stores exactly what the ORM would. Elsewhere (SQLite, the development database) the ORM
does the same in a transaction of four statements.
"""

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from django.db import connection, transaction
from django.db.models import Count, Q

from ballots import locks
from ballots.models import Ballot, Choice
from cases.models import Case


@dataclass(frozen=True)
class Budget:
    """At most this many ballots from one address, and from one /24, since `since`."""

    address: int
    subnet: int
    since: datetime


def store_ballot(ballot: Ballot, cases: Sequence[Case], budget: Budget) -> bool:
    """Insert `ballot` (unsaved) and one choice per case, unless its address or /24
    already cast its budget of ballots: then store nothing and return False.
    Raises IntegrityError, having stored nothing, for a second ballot in a period."""
    if connection.vendor == "postgresql":
        return _store_in_one_round_trip(ballot, cases, budget)
    return _store_with_the_orm(ballot, cases, budget)


class _OverBudget(Exception):
    """Rolls the ORM's transaction back."""


def _store_with_the_orm(ballot: Ballot, cases: Sequence[Case], budget: Budget) -> bool:
    try:
        with transaction.atomic():
            locks.take_turns("ballot", ballot.ip_subnet)
            # Inserted before counting, so that a second ballot is refused as such.
            ballot.save(force_insert=True)
            if _over_budget(ballot, budget):
                raise _OverBudget
            Choice.objects.bulk_create(Choice(ballot=ballot, case=case) for case in cases)
    except _OverBudget:
        ballot.pk = None
        ballot._state.adding = True
        return False
    return True


def _over_budget(ballot: Ballot, budget: Budget) -> bool:
    """Whether `ballot`, counted with the others, takes its network over budget."""
    if not ballot.ip_network and not ballot.ip_subnet:
        return False
    same_address, same_subnet = Q(ip_network=ballot.ip_network), Q(ip_subnet=ballot.ip_subnet)
    counts = Ballot.objects.filter(same_address | same_subnet, cast_at__gte=budget.since)
    counts = counts.aggregate(
        address=Count("pk", filter=same_address), subnet=Count("pk", filter=same_subnet)
    )
    return bool(ballot.ip_network and counts["address"] > budget.address) or bool(
        ballot.ip_subnet and counts["subnet"] > budget.subnet
    )


def _ballot_fields():
    return [field for field in Ballot._meta.concrete_fields if not field.primary_key]


@cache
def _statements(take_turn: bool) -> str:
    """The network's turn (when the ballot has an address), then the count-and-insert
    statement. Placeholders: the lock id; (network, network, since) for the address and
    for the /24; the two budgets; the ballot's columns; the case ids."""

    def name(model, field: str) -> str:
        return connection.ops.quote_name(model._meta.get_field(field).column)

    ballot_table = connection.ops.quote_name(Ballot._meta.db_table)
    choice_table = connection.ops.quote_name(Choice._meta.db_table)
    ballot_id = connection.ops.quote_name(Ballot._meta.pk.column)
    columns = ", ".join(connection.ops.quote_name(field.column) for field in _ballot_fields())
    # Typed, as an INSERT ... SELECT does not give a NULL or a bare literal its column's type.
    values = ", ".join(f"%s::{field.cast_db_type(connection)}" for field in _ballot_fields())
    cast_at = name(Ballot, "cast_at")

    def recent(column: str) -> str:
        # The models' own quoted names are formatted in; every value is a parameter.
        return (
            f"(SELECT count(*) FROM {ballot_table} "  # noqa: S608
            f"WHERE {column} = %s AND %s <> '' AND {cast_at} >= %s)"
        )

    turn = "SELECT pg_advisory_xact_lock(%s); " if take_turn else ""
    return (
        f"{turn}WITH recent AS ("  # noqa: S608 (as above)
        f"SELECT {recent(name(Ballot, 'ip_network'))} AS address, "
        f"{recent(name(Ballot, 'ip_subnet'))} AS subnet"
        f"), new_ballot AS ("
        f"INSERT INTO {ballot_table} ({columns}) "
        f"SELECT {values} FROM recent WHERE recent.address < %s AND recent.subnet < %s "
        f"RETURNING {ballot_id}"
        f"), new_choices AS ("
        f"INSERT INTO {choice_table} ({name(Choice, 'ballot')}, {name(Choice, 'case')}) "
        f"SELECT new_ballot.{ballot_id}, chosen.case_id "
        f"FROM new_ballot, unnest(%s::bigint[]) AS chosen(case_id)"
        f") SELECT {ballot_id} FROM new_ballot"
    )


def _store_in_one_round_trip(ballot: Ballot, cases: Sequence[Case], budget: Budget) -> bool:
    values = [
        field.get_db_prep_save(field.pre_save(ballot, add=True), connection)
        for field in _ballot_fields()
    ]
    take_turn = bool(ballot.ip_subnet)  # as locks.take_turns: no address, no turn
    parameters = [
        *([locks.lock_id("ballot", ballot.ip_subnet)] if take_turn else []),
        *(ballot.ip_network, ballot.ip_network, budget.since),
        *(ballot.ip_subnet, ballot.ip_subnet, budget.since),
        *values,
        budget.address,
        budget.subnet,
        [case.pk for case in cases],
    ]
    # Outside a transaction (production), the two statements are their own
    # transaction; inside one, a savepoint keeps a refused ballot from aborting it.
    inside = transaction.atomic() if connection.in_atomic_block else nullcontext()
    with inside, connection.cursor() as cursor:
        cursor.execute(_statements(take_turn), parameters)
        row = cursor.fetchone()
    if row is None:
        return False
    ballot.pk = row[0]
    ballot._state.adding = False
    ballot._state.db = connection.alias
    return True
