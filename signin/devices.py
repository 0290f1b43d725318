"""Two-factor sign-in for staff: whether it is required, and which of an account's TOTP
devices (django-otp) a code verifies."""

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django_otp import verify_token
from django_otp.plugins.otp_totp.models import TOTPDevice

# What a new device is called in the admin's list of devices.
DEVICE_NAME = "手机验证器"


def two_factor_required() -> bool:
    """Read per request, so that a test (or a restart with the variable set) changes it."""
    return settings.CASEVOTE_STAFF_2FA


def devices_of(user: AbstractBaseUser) -> list[TOTPDevice]:
    return list(TOTPDevice.objects.devices_for_user(user, confirmed=True))


def verified_device(user: AbstractBaseUser, token: str) -> TOTPDevice | None:
    """The device whose current code is `token`, or None. django-otp refuses a code it has
    accepted before and slows down a device after each wrong code (1, 2, 4… seconds)."""
    for device in devices_of(user):
        if not device.verify_is_allowed()[0]:
            continue
        verified = verify_token(user, device.persistent_id, token)
        if verified is not None:
            return verified
    return None


@transaction.atomic
def register_device(user: AbstractBaseUser, *, replace: bool = False) -> TOTPDevice:
    """A new confirmed device for `user`; with `replace`, their old devices go (a lost or
    changed phone): their codes stop working at once."""
    if replace:
        TOTPDevice.objects.filter(user=user).delete()
    return TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=True)
