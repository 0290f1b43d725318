"""The browser's identities, kept in signed HttpOnly cookies.

`cv_follower` names the Follower this browser confirmed; `cv_device` is a random,
long-lived id recorded with ballots as evidence. A tampered cookie reads as absent.
"""

import secrets

from django.conf import settings
from django.http import HttpRequest, HttpResponse

FOLLOWER_COOKIE = "cv_follower"
FOLLOWER_SALT = "casevote.follower-cookie"
DEVICE_COOKIE = "cv_device"
DEVICE_SALT = "casevote.device-cookie"
COOKIE_MAX_AGE = 400 * 24 * 3600  # browsers cap cookies at 400 days


def _set(response: HttpResponse, name: str, value: str, salt: str) -> None:
    response.set_signed_cookie(
        name,
        value,
        salt=salt,
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=settings.CASEVOTE_SECURE_COOKIES,
    )


def _get(request: HttpRequest, name: str, salt: str) -> str | None:
    return request.get_signed_cookie(name, default=None, salt=salt, max_age=COOKIE_MAX_AGE)


def remember_follower(response: HttpResponse, follower_id: int) -> None:
    _set(response, FOLLOWER_COOKIE, str(follower_id), FOLLOWER_SALT)


def remembered_follower_id(request: HttpRequest) -> int | None:
    value = _get(request, FOLLOWER_COOKIE, FOLLOWER_SALT)
    return int(value) if value and value.isascii() and value.isdigit() else None


def device_id(request: HttpRequest) -> tuple[str, bool]:
    """This browser's device id, and whether it is new (so the cookie must be set)."""
    value = _get(request, DEVICE_COOKIE, DEVICE_SALT)
    if value and len(value) == 32 and value.isalnum():
        return value, False
    return secrets.token_hex(16), True


def remember_device(response: HttpResponse, value: str) -> None:
    _set(response, DEVICE_COOKIE, value, DEVICE_SALT)
