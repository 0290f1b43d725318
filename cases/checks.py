"""System checks of the catalogue's public face."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def public_origin(app_configs, **kwargs) -> list:
    """Posters and share cards carry absolute addresses; without the site's origin they
    would point at a development address (http://<first allowed host>:8000)."""
    if settings.CASEVOTE_PUBLIC_ORIGIN:
        return []
    return [
        Warning(
            "CASEVOTE_PUBLIC_ORIGIN is empty: the QR codes on case posters and the links in "
            "share cards point at a development address.",
            hint="Set CASEVOTE_PUBLIC_ORIGIN to the site's public origin, e.g. "
            "https://vote.example.cn (no trailing slash).",
            id="cases.W010",
        )
    ]
