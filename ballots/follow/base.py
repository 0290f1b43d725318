from django.http import HttpRequest, HttpResponse

from ballots import identity
from ballots.models import Follower


class FollowBackend:
    """Interface of a follow gate; see ballots.follow."""

    name = ""

    def get_follower(self, request: HttpRequest) -> Follower | None:
        """The follower this browser's signed cookie names, if it came through this gate."""
        follower_id = identity.remembered_follower_id(request)
        if follower_id is None:
            return None
        return Follower.objects.filter(pk=follower_id, backend=self.name).first()

    def gate(self, request: HttpRequest) -> HttpResponse:
        raise NotImplementedError

    def still_following(self, follower: Follower) -> bool:
        """Asked when a ballot is cast, outside any transaction. A backend that cannot
        know (its remote service is down) raises ballots.errors.FollowCheckUnavailable."""
        raise NotImplementedError
