"""Who may do what in the committee's tools: each permission one named question.

The permissions themselves are declared on `Decision.Meta.permissions` and given to
the 组委会 group by a data migration; views, admin classes and templates ask here
instead of spelling permission strings.
"""

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from cases.models import Batch

User = AbstractBaseUser | AnonymousUser

VIEW_EVIDENCE = "ballots.view_evidence"
VIEW_VOTES = "ballots.view_votes"
VOID_BALLOTS = "ballots.void_ballots"
DECIDE_CASES = "ballots.decide_cases"
SELECT_CASES = "ballots.select_cases"
PUBLISH = "ballots.publish"


def may_see_evidence(user: User) -> bool:
    """The 刷票监测 page and stored detector runs."""
    return user.has_perm(VIEW_EVIDENCE)


def may_see_votes_early(user: User) -> bool:
    """Vote counts and exports while a batch's results are still hidden."""
    return user.has_perm(VIEW_VOTES)


def may_see_votes(user: User, batch: Batch, now: datetime) -> bool:
    return may_see_votes_early(user) or batch.results_visible(now)


def may_void(user: User) -> bool:
    return user.has_perm(VOID_BALLOTS)


def may_decide_cases(user: User) -> bool:
    """Disqualify and reinstate cases."""
    return user.has_perm(DECIDE_CASES)


def may_select(user: User) -> bool:
    """Score cases and decide the selected list."""
    return user.has_perm(SELECT_CASES)


def may_publish(user: User) -> bool:
    """Publish results and the selected list, and set a batch's voting rules."""
    return user.has_perm(PUBLISH)
