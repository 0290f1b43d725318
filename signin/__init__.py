"""Staff sign-in protection for the admin: lockout after repeated failures (django-axes).

The public site has no accounts; only the committee and the editors sign in, at /admin/.
"""
