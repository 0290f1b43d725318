from django.http import HttpRequest, HttpResponse

from ballots.models import Follower


class FollowBackend:
    """Interface of a follow gate; see ballots.follow."""

    name = ""

    def get_follower(self, request: HttpRequest) -> Follower | None:
        raise NotImplementedError

    def gate(self, request: HttpRequest) -> HttpResponse:
        raise NotImplementedError

    def still_following(self, follower: Follower) -> bool:
        """Asked when a ballot is cast, outside any transaction. A backend that cannot
        know (its remote service is down) raises ballots.errors.FollowCheckUnavailable."""
        raise NotImplementedError
