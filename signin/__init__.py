"""Staff sign-in protection for the admin: lockout after repeated failures (django-axes),
and TOTP two-factor sign-in (django-otp) when `CASEVOTE_STAFF_2FA` is on.

The public site has no accounts; only the committee and the editors sign in, at /admin/.
"""
