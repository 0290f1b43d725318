"""System checks for the staff sign-in: a production start says when the committee's
accounts are protected by a password alone."""

from datetime import timedelta

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def two_factor_in_production(app_configs, **kwargs) -> list:
    """A deploy check (`manage.py check --deploy`, as Django's own security checks): a
    local `make serve` runs with DEBUG off too and need not be told every start."""
    if settings.DEBUG or settings.CASEVOTE_STAFF_2FA:
        return []
    return [
        Warning(
            "CASEVOTE_STAFF_2FA is off: the committee's and editors' accounts sign in to "
            "the admin with a password alone.",
            hint=(
                "Register a TOTP device for every staff account (manage.py add_totp_device "
                "USERNAME, or the admin's TOTP devices), then set CASEVOTE_STAFF_2FA=1 "
                "(README, Staff sign-in protection)."
            ),
            id="signin.W001",
        )
    ]


@register(Tags.security)
def lockout_settings(app_configs, **kwargs) -> list:
    problems = []
    if settings.AXES_FAILURE_LIMIT < 1:
        problems.append(Error("CASEVOTE_LOGIN_FAILURE_LIMIT must be at least 1.", id="signin.E001"))
    if settings.AXES_COOLOFF_TIME < timedelta(minutes=1):
        problems.append(
            Error("CASEVOTE_LOGIN_LOCKOUT_MINUTES must be at least 1.", id="signin.E002")
        )
    return problems
