"""The committee's announcements on the catalogue's pages.

The campaign and case pages belong to `cases`, which knows nothing of the vote; their
templates ask here for the announcements that concern a batch or a case.
"""

from django import template

from ballots.models import Announcement
from cases.models import Batch, Case

register = template.Library()


@register.simple_tag
def latest_announcement(batch: Batch | None) -> Announcement | None:
    if batch is None:
        return None
    return Announcement.objects.filter(batch=batch).order_by("-published_at", "-pk").first()


@register.simple_tag
def announcements_about(case: Case) -> list[Announcement]:
    return list(Announcement.objects.filter(case=case).order_by("-published_at", "-pk"))


@register.simple_tag
def batch_announcements(batch: Batch) -> list[Announcement]:
    return list(
        Announcement.objects.filter(batch=batch)
        .select_related("case")
        .order_by("-published_at", "-pk")
    )
