"""The follow gate: who may vote. One backend is active (`CASEVOTE_FOLLOW_BACKEND`).

A backend answers three questions, and the voting views ask nothing else:
- `get_follower(request)`: the Follower this request proves to be, or None;
- `gate(request)`: the response for a visitor who has not followed yet;
- `still_following(follower)`: checked again when a ballot is cast.
"""

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from ballots.follow.base import FollowBackend


@cache
def _load(path: str) -> FollowBackend:
    return import_string(path)()


def get_backend() -> FollowBackend:
    return _load(settings.CASEVOTE_FOLLOW_BACKEND)
