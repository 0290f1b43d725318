"""The voting rules of a batch, in words for the ballot page."""

from dataclasses import dataclass
from datetime import datetime

from cases.models import Batch


@dataclass(frozen=True)
class VotingRules:
    is_open: bool
    not_yet_open: bool
    closed: bool
    min_choices: int
    max_choices: int
    frequency_text: str
    opens_at: datetime | None
    closes_at: datetime | None


def voting_rules(batch: Batch, votable_count: int, now: datetime) -> VotingRules:
    return VotingRules(
        is_open=batch.is_open(now),
        not_yet_open=batch.voting_opens_at is None or now < batch.voting_opens_at,
        closed=batch.has_closed(now),
        min_choices=batch.min_choices,
        max_choices=batch.max_choices_for(votable_count),
        frequency_text=batch.get_frequency_display(),
        opens_at=batch.voting_opens_at,
        closes_at=batch.voting_closes_at,
    )
