"""Drafts on the public pages: staff see them, marked as previews; everyone else gets 404.

A batch is a draft until the committee publishes it (see `ballots.publication`). The
editors preparing it, and the committee deciding whether to publish it, read its pages
exactly as the public will, with a banner saying they are a preview.
"""

from django.http import Http404, HttpRequest

from cases.models import Batch


def may_preview(user) -> bool:
    """Staff who may see batches in the admin may see drafts on the site."""
    return bool(user.is_active and user.is_staff and user.has_perm("cases.view_batch"))


def require_visible(request: HttpRequest, batch: Batch) -> bool:
    """Raise 404 unless the public or this visitor may see `batch`; True for a preview."""
    if batch.is_published:
        return False
    if may_preview(request.user):
        return True
    raise Http404("没有这个批次")
