"""Why a ballot was refused: one exception type, a message for people, an HTTP status."""

from datetime import datetime

from casevote.errors import Refusal

DAMAGED_FORM_MESSAGE = "提交失败，请刷新页面后重试。"


class BallotRefused(Refusal):
    """A ballot that was not recorded; nothing of the request was stored."""


class VotingNotOpen(BallotRefused):
    """Before the batch's window, after it, or a batch without one."""

    status_code = 403


class NotFollowing(BallotRefused):
    """No follower identity, or the follower has since unfollowed the account."""

    status_code = 403


class FollowCheckUnavailable(BallotRefused):
    """The follow gate could not tell whether the voter still follows (e.g. WeChat's API
    is down): nothing is recorded and the voter is asked to try again later."""

    status_code = 503


class InvalidSelection(BallotRefused):
    """A case number that is unknown, repeated, outside the batch or disqualified, or
    too few or too many cases."""


class FormRejected(BallotRefused):
    """The form itself: damaged, its token expired or not this voter's, sent too fast,
    or its honeypot filled in."""


class TooManyRequests(BallotRefused):
    """Over an address's or a /24's hourly budget: wait and try again."""

    status_code = 429


class AlreadyVoted(BallotRefused):
    status_code = 409

    def __init__(self, message: str, ballot, next_vote_at: datetime | None):
        super().__init__(message)
        self.ballot = ballot
        self.next_vote_at = next_vote_at
