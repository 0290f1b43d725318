from django.http import HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import render
from django.templatetags.static import static
from django.utils.http import http_date
from django.views.decorators.http import require_safe


def csrf_failure(request, reason: str = ""):
    """Django's CSRF refusal, in Chinese and without technical detail."""
    return render(request, "403_csrf.html", status=403)


# What `never_cache` sets, written once: the health check answers more often than any page.
NEVER_CACHE = "max-age=0, no-cache, no-store, must-revalidate, private"


@require_safe
def healthz(request):
    """Liveness: touches nothing (no database, no template). The benchmark's baseline."""
    response = HttpResponse("ok", content_type="text/plain")
    response.headers["Cache-Control"] = NEVER_CACHE
    response.headers["Expires"] = http_date()
    return response


@require_safe
def favicon(request):
    """Browsers ask for /favicon.ico on pages that name no icon (the admin's): no 404s."""
    return HttpResponsePermanentRedirect(static("favicon.svg"))
