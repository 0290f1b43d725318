"""Why a ballot was refused: one exception type, a message for people, an HTTP status."""

from datetime import datetime

from casevote.errors import Refusal

DAMAGED_FORM_MESSAGE = "提交失败，请刷新页面后重试。"


class BallotRefused(Refusal):
    pass


class VotingNotOpen(BallotRefused):
    status_code = 403


class NotFollowing(BallotRefused):
    status_code = 403


class FollowCheckUnavailable(BallotRefused):
    """The follow gate could not tell whether the voter still follows (e.g. WeChat's API
    is down): nothing is recorded and the voter is asked to try again later."""

    status_code = 503


class InvalidSelection(BallotRefused):
    pass


class FormRejected(BallotRefused):
    pass


class TooManyRequests(BallotRefused):
    status_code = 429


class AlreadyVoted(BallotRefused):
    status_code = 409

    def __init__(self, message: str, ballot, next_vote_at: datetime | None):
        super().__init__(message)
        self.ballot = ballot
        self.next_vote_at = next_vote_at
