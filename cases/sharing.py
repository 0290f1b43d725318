"""Absolute addresses for what residents pass on: posters' QR codes, share cards.

They come from the site's configured public origin (CASEVOTE_PUBLIC_ORIGIN), never from
the request's Host header: a forged Host would otherwise be printed into a poster's QR
code, or cached in a shared page's card, for everyone.
"""

from django.conf import settings

DEVELOPMENT_PORT = 8000  # runserver's


def public_origin() -> str:
    """CASEVOTE_PUBLIC_ORIGIN, or for development http://<first allowed host>:8000."""
    if settings.CASEVOTE_PUBLIC_ORIGIN:
        return settings.CASEVOTE_PUBLIC_ORIGIN.rstrip("/")
    hosts = [host for host in settings.ALLOWED_HOSTS if host and "*" not in host]
    host = hosts[0].lstrip(".") if hosts else "127.0.0.1"
    return f"http://{host}:{DEVELOPMENT_PORT}"


def absolute_url(path: str) -> str:
    """`path` ("/cases/031/") on the public origin."""
    return public_origin() + path
