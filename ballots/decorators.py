from functools import wraps

from ballots import identity
from ballots.follow import get_backend


def follow_required(view):
    """Let followers through (as `request.follower`); show everyone else the gate."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        backend = get_backend()
        follower = backend.get_follower(request)
        if follower is None:
            return backend.gate(request)
        request.follower = follower
        return view(request, *args, **kwargs)

    return wrapper


def with_device_id(view):
    """Give the browser a long-lived device id (`request.device_id`), evidence for ballots."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        request.device_id, is_new = identity.device_id(request)
        response = view(request, *args, **kwargs)
        if is_new:
            identity.remember_device(response, request.device_id)
        return response

    return wrapper
