"""Storing a ballot with its choices and counting its network's recent ballots.

The rules (`ballots.services.cast_ballot`) need three things written or read inside the
ballot's transaction, after its network's turn is taken (`ballots.locks`): the ballot
row, its choice rows, and how many ballots the address and its /24 cast in the last
hour, this one included. The one-ballot-per-period constraint refuses a second ballot
with an IntegrityError before anything is counted.

On PostgreSQL — the ballot's hot path in production — that is one round trip: the
turn, then one statement whose common table expressions insert the ballot and its
choices and whose SELECT counts the network's other ballots (a statement does not see
its own inserts, hence the `+ 1`). Each statement of the round trip takes its own
snapshot under READ COMMITTED, so the count sees every ballot committed by whoever held
the turn before. The SQL is written from the models' own columns and values
(`get_db_prep_save`), so it stores exactly what the ORM would. Elsewhere (SQLite, the
development database), the ORM does the same in four statements.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from django.db import connection
from django.db.models import Count, Q

from ballots import locks
from ballots.models import Ballot, Choice
from cases.models import Case


@dataclass(frozen=True)
class NetworkCounts:
    """Ballots cast since a moment from the ballot's address and from its /24, the
    ballot itself included (0 where the ballot has no address)."""

    address: int
    subnet: int


def store_ballot(
    ballot: Ballot, cases: Sequence[Case], *, counted_since: datetime
) -> NetworkCounts:
    """Insert `ballot` (unsaved) and one choice per case; count its network's ballots
    cast since `counted_since`. Call inside `transaction.atomic()`: the caller refuses
    (rolls back) a ballot over budget. Raises IntegrityError for a second ballot."""
    if connection.vendor == "postgresql":
        return _store_in_one_round_trip(ballot, cases, counted_since)
    return _store_with_the_orm(ballot, cases, counted_since)


def _store_with_the_orm(ballot: Ballot, cases: Sequence[Case], since: datetime) -> NetworkCounts:
    ballot.save(force_insert=True)
    Choice.objects.bulk_create(Choice(ballot=ballot, case=case) for case in cases)
    if not ballot.ip_network and not ballot.ip_subnet:
        return NetworkCounts(0, 0)
    same_address, same_subnet = Q(ip_network=ballot.ip_network), Q(ip_subnet=ballot.ip_subnet)
    counts = Ballot.objects.filter(same_address | same_subnet, cast_at__gte=since).aggregate(
        address=Count("pk", filter=same_address), subnet=Count("pk", filter=same_subnet)
    )
    return NetworkCounts(
        counts["address"] if ballot.ip_network else 0,
        counts["subnet"] if ballot.ip_subnet else 0,
    )


def _ballot_fields():
    return [field for field in Ballot._meta.concrete_fields if not field.primary_key]


@cache
def _statement(take_turn: bool) -> str:
    """The network's turn (when the ballot has an address) and the insert-and-count
    statement, with %s placeholders: the lock id, the ballot's columns, the case ids,
    then (network, network, since) for the address and for the /24."""
    ballot_table = connection.ops.quote_name(Ballot._meta.db_table)
    choice_table = connection.ops.quote_name(Choice._meta.db_table)
    ballot_id = connection.ops.quote_name(Ballot._meta.pk.column)
    fields = _ballot_fields()
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    values = ", ".join(["%s"] * len(fields))
    choice_ballot = connection.ops.quote_name(Choice._meta.get_field("ballot").column)
    choice_case = connection.ops.quote_name(Choice._meta.get_field("case").column)
    ip_network = connection.ops.quote_name(Ballot._meta.get_field("ip_network").column)
    ip_subnet = connection.ops.quote_name(Ballot._meta.get_field("ip_subnet").column)
    cast_at = connection.ops.quote_name(Ballot._meta.get_field("cast_at").column)

    def recent(column: str) -> str:
        # The models' own quoted names are formatted in; every value is a parameter.
        return (
            f"(SELECT count(*) FROM {ballot_table} "  # noqa: S608
            f"WHERE {column} = %s AND %s <> '' AND {cast_at} >= %s)"
        )

    turn = "SELECT pg_advisory_xact_lock(%s); " if take_turn else ""
    return (
        f"{turn}WITH new_ballot AS ("  # noqa: S608 (as above)
        f"INSERT INTO {ballot_table} ({columns}) VALUES ({values}) RETURNING {ballot_id}"
        f"), new_choices AS ("
        f"INSERT INTO {choice_table} ({choice_ballot}, {choice_case}) "
        f"SELECT new_ballot.{ballot_id}, chosen.case_id "
        f"FROM new_ballot, unnest(%s::bigint[]) AS chosen(case_id)"
        f") SELECT new_ballot.{ballot_id}, {recent(ip_network)}, {recent(ip_subnet)} "
        f"FROM new_ballot"
    )


def _store_in_one_round_trip(
    ballot: Ballot, cases: Sequence[Case], since: datetime
) -> NetworkCounts:
    values = [
        field.get_db_prep_save(field.pre_save(ballot, add=True), connection)
        for field in _ballot_fields()
    ]
    take_turn = bool(ballot.ip_subnet)  # as locks.take_turns: no address, no turn
    parameters = [
        *([locks.lock_id("ballot", ballot.ip_subnet)] if take_turn else []),
        *values,
        [case.pk for case in cases],
        *(ballot.ip_network, ballot.ip_network, since),
        *(ballot.ip_subnet, ballot.ip_subnet, since),
    ]
    with connection.cursor() as cursor:
        cursor.execute(_statement(take_turn), parameters)
        ballot_id, address, subnet = cursor.fetchone()
    ballot.pk = ballot_id
    ballot._state.adding = False
    ballot._state.db = connection.alias
    return NetworkCounts(
        address + 1 if ballot.ip_network else 0, subnet + 1 if ballot.ip_subnet else 0
    )
