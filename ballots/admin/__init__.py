"""The committee's admin: read-only evidence, decisions that need a reason, an audit trail.

- `actions`: the one confirm-then-decide flow every decision goes through;
- `catalogue`: batches and cases as the committee sees them (extends `cases.admin`);
- `records`: followers, ballots, decisions, announcements, reviews, detector runs.
"""

from ballots.admin import catalogue, records  # noqa: F401 (registers the admin classes)
