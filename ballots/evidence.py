"""Loading the detector's input from the database, and running it for a batch.

`ballots.detection` is pure; this is the one place that turns ballots into
`BallotRecord`s. Two streamed queries — ballots joined to their follower's follow
and unfollow times, then choice rows as (ballot id, case number) — so it stays
linear and fast for hundreds of thousands of ballots. Repeated strings (user agents, networks,
device ids) are shared, which keeps a million records in memory affordable; a
follower's unfollow time is one datetime for all their ballots (most have none).
"""

from collections import defaultdict
from datetime import datetime

from ballots.detection import BallotRecord, CaseReport, detect
from ballots.models import Ballot, Choice
from cases.models import Batch, Case

CHUNK_SIZE = 20_000


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


def case_numbers(batch: Batch) -> list[int]:
    """Every case of the batch, disqualified ones included: their ballots are evidence."""
    return list(
        Case.objects.filter(batch=batch).order_by("number").values_list("number", flat=True)
    )


def batch_reports(batch: Batch, *, include_void: bool = False) -> list[CaseReport]:
    """The detector's reports for a batch, most suspicious first."""
    return detect(load_records(batch, include_void=include_void), case_numbers(batch))
