"""The load tier (`pytest -m load`): real gunicorn, real PostgreSQL, loopback HTTP voters.

Skipped unless DATABASE_URL points at PostgreSQL; `make test-fast` leaves it out.
"""
