"""The cluster tier: two gunicorn nodes behind nginx, on Redis, PgBouncer and PostgreSQL."""
