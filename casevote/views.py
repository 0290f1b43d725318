from django.http import HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe


def csrf_failure(request, reason: str = ""):
    """Django's CSRF refusal, in Chinese and without technical detail."""
    return render(request, "403_csrf.html", status=403)


@require_safe
@never_cache
def healthz(request):
    """Liveness: touches nothing (no database, no template). The benchmark's baseline."""
    return HttpResponse("ok", content_type="text/plain")


@require_safe
def favicon(request):
    """Browsers ask for /favicon.ico on pages that name no icon (the admin's): no 404s."""
    return HttpResponsePermanentRedirect(static("favicon.svg"))
