"""Drafts on the public pages: staff see them, marked as previews; everyone else gets 404.

A batch is a draft until the committee publishes it (see `ballots.publication`). The
editors preparing it, and the committee deciding whether to publish it, read its pages
exactly as the public will, with a banner saying they are a preview.
"""

from django.conf import settings
from django.http import Http404, HttpRequest

from cases.models import Batch


def may_preview(user) -> bool:
    """Staff who may see batches in the admin may see drafts on the site; when the admin
    asks for a second factor (CASEVOTE_STAFF_2FA), only once they have given it
    (django-otp's middleware adds `is_verified`)."""
    if settings.CASEVOTE_STAFF_2FA and not getattr(user, "is_verified", lambda: False)():
        return False
    return bool(user.is_active and user.is_staff and user.has_perm("cases.view_batch"))


def require_visible(request: HttpRequest, batch: Batch) -> bool:
    """Raise 404 unless the public or this visitor may see `batch`; True for a preview."""
    if batch.is_published:
        return False
    if may_preview(request.user):
        return True
    raise Http404("没有这个批次")
