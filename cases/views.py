from functools import partial

from django.conf import settings
from django.core.cache import caches
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import content_disposition_header
from django.views.decorators.http import conditional_page, require_safe

from cases import poster as posters
from cases.forms import CaseFilterForm
from cases.models import Batch, Case, featured_batch
from cases.preview import require_visible
from cases.sharing import absolute_url
from casevote.pagecache import cached_page
from casevote.sharedcache import SharedCacheUnavailable

# Rendered posters are kept in the shared cache under their ETag (a hash of everything
# drawn): a change to any input is a new key, so nothing needs invalidating, and the
# bytes live on disk, shared by the workers, not in each worker's memory.
POSTER_CACHE_SECONDS = 7 * 24 * 3600
# Browsers reuse a poster this long, then ask again with If-None-Match (a 304 if unchanged).
POSTER_MAX_AGE = 300


def get_case_or_404(number: int) -> Case:
    return get_object_or_404(Case.objects.select_related("batch"), number=number)


def seconds_until(moment, now) -> int | None:
    return int((moment - now).total_seconds()) if moment is not None else None


@require_safe
@cached_page()
def campaign(request):
    """The batch now showing (or voting) first, with its cases; the other published
    batches below, each linking to its own page."""
    now = timezone.now()
    batches = list(Batch.objects.published().order_by("-number"))
    batch = featured_batch(batches, now)
    for each in batches:
        each.phase = each.voting_phase(now)
    cases = Case.objects.none()
    provinces: list[str] = []
    if batch is not None:
        cases = batch.cases.all()
        provinces = cases.provinces()
    form = CaseFilterForm(request.GET or None, provinces=provinces)
    filters = form.filters()
    if "province" in filters:
        cases = cases.in_province(filters["province"])
    if "q" in filters:
        cases = cases.matching(filters["q"])
    response = render(
        request,
        "cases/campaign.html",
        {
            "batch": batch,
            "cases": list(cases),
            "form": form,
            "filters": filters,
            "other_batches": [other for other in batches if other != batch],
            "now": now,
        },
    )
    # Which batch comes first depends on whether voting is open: cache no longer than that.
    changes = [seconds_until(other.next_change(now), now) for other in batches]
    if known := [seconds for seconds in changes if seconds is not None]:
        response.cache_seconds = min(known)
    return response


@require_safe
@cached_page(seconds_setting="CASEVOTE_RESULTS_CACHE_SECONDS")  # it shows the results
def batch_page(request, number: int):
    """One batch, for good: its cases, voting rules and window, its results once they
    are visible, its part of the final list and its announcements."""
    batch = get_object_or_404(Batch, number=number)
    preview = require_visible(request, batch)
    now = timezone.now()
    cases = list(batch.cases.all())
    response = render(
        request,
        "cases/batch.html",
        {
            "batch": batch,
            "cases": cases,
            "max_choices": batch.max_choices_for(sum(case.is_votable for case in cases)),
            "now": now,
            "phase": batch.voting_phase(now),
            "results_visible": batch.results_visible(now),
            "preview": preview,
        },
    )
    if (seconds := seconds_until(batch.next_change(now), now)) is not None:
        response.cache_seconds = seconds
    return response


@require_safe
@cached_page()
def case_detail(request, number: int):
    case = get_case_or_404(number)
    preview = require_visible(request, case.batch)
    if request.path != case.get_absolute_url():  # /cases/31/ → /cases/031/
        return redirect(case, permanent=True)
    previous, following = case.neighbours()
    return render(
        request,
        "cases/case_detail.html",
        {
            "case": case,
            "previous": previous,
            "following": following,
            "preview": preview,
            "poster_width": posters.WIDTH,
            "poster_height": posters.HEIGHT,
        },
    )


def poster_content(case: Case) -> posters.PosterContent:
    return posters.PosterContent(
        campaign=settings.CASEVOTE_CAMPAIGN_NAME,
        number=case.display_number,
        title=case.title,
        province=case.province,
        url=absolute_url(case.get_absolute_url()),
    )


def poster_png(content: posters.PosterContent) -> bytes:
    """The poster's bytes: drawn once, then read from the shared cache (from this
    worker's own while the shared cache does not answer)."""
    key = f"casevote:poster:{content.digest()}"
    draw = partial(posters.render, content)
    try:
        return caches["shared"].get_or_set(key, draw, POSTER_CACHE_SECONDS)
    except SharedCacheUnavailable:
        return caches["default"].get_or_set(key, draw, POSTER_CACHE_SECONDS)


@require_safe
@conditional_page  # If-None-Match → 304, also for a response from the page cache
@cached_page()  # no query once a worker has served it: 48 kB per poster per worker
def case_poster(request, number: int):
    """The case's canvassing poster (PNG) with a QR code to its page; none for a
    disqualified case. Served with an ETag, so a browser's second look is a 304."""
    case = get_case_or_404(number)
    preview = require_visible(request, case.batch)
    if request.path != reverse("cases:poster", args=[case.display_number]):
        return redirect("cases:poster", case.display_number, permanent=True)
    if not case.is_votable:
        return render(request, "cases/poster_unavailable.html", {"case": case}, status=404)
    content = poster_content(case)
    etag = content.etag()
    response = get_conditional_response(request, etag=etag)
    if response is None:
        response = HttpResponse(poster_png(content), content_type="image/png")
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=False, filename=f"拉票海报-{case.display_number}.png"
        )
    response["ETag"] = etag
    if preview:  # a draft's poster is for the staff previewing it, never a shared cache
        patch_cache_control(response, private=True, no_cache=True)
    else:
        patch_cache_control(response, public=True, max_age=POSTER_MAX_AGE)
    return response
