from django.shortcuts import render


def csrf_failure(request, reason: str = ""):
    """Django's CSRF refusal, in Chinese and without technical detail."""
    return render(request, "403_csrf.html", status=403)
