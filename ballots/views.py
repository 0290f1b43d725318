from functools import wraps

from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_http_methods, require_safe

from ballots import tally
from ballots.decorators import follow_required, with_device_id
from ballots.errors import AlreadyVoted, BallotRefused
from ballots.forms import BallotForm
from ballots.models import RECEIPT_ALPHABET, RECEIPT_LENGTH, Announcement, Ballot
from ballots.rules import voting_rules
from ballots.services import (
    BallotRequest,
    cast_ballot,
    find_existing,
    next_vote_at,
    voting_period,
)
from ballots.tokens import make_form_token
from cases import catalogue
from cases.models import Batch, Case
from cases.preview import require_visible
from casevote.pagecache import cached_page


def get_catalogue_or_404(request, number: int | None, now) -> catalogue.Catalogue:
    """A batch with its cases, from this worker's memory (the ballot's hot path): batch
    `number`, or without one the batch the campaign shows first. A draft only for staff,
    as a preview (it takes no ballot: `Batch.is_open` is false for drafts)."""
    if number is None:
        current = catalogue.featured(now)
    else:
        current = catalogue.of(number)
        if current is None:
            batch = get_object_or_404(Batch, number=number)
            require_visible(request, batch)
            current = catalogue.load(batch)
    if current is None:
        raise Http404("没有正在展示的批次")
    return current


def get_batch_or_404(request, number: int | None, now) -> Batch:
    """Batch `number` (a draft only for staff), or the batch the campaign shows first."""
    if number is None:
        batch = Batch.objects.featured(now)
        if batch is None:
            raise Http404("没有正在展示的批次")
        return batch
    batch = get_object_or_404(Batch, number=number)
    require_visible(request, batch)
    return batch


def batch_visible(view):
    """404 for a batch that does not exist or is a draft (to all but staff) before the
    follow gate: the gate must not tell a draft's number from a missing one."""

    @wraps(view)
    def wrapper(request, *args, number: int | None = None, **kwargs):
        if number is not None and catalogue.of(number) is None:
            require_visible(request, get_object_or_404(Batch, number=number))
        return view(request, *args, number=number, **kwargs)

    return wrapper


@require_http_methods(["GET", "HEAD", "POST"])
@batch_visible
@with_device_id
@follow_required
@cache_control(private=True, no_store=True)
def vote(request, number: int | None = None):
    now = timezone.now()
    current = get_catalogue_or_404(request, number, now)
    batch = current.batch
    form = BallotForm(request.POST if request.method == "POST" else None, labels=current.labels)
    status, existing = 200, None
    if not form.is_bound:
        existing = find_existing(request.follower, batch, voting_period(batch, now))
    elif not form.is_valid():
        status = 400
    else:
        try:
            result = cast_ballot(
                follower=request.follower,
                catalogue=current,
                cases=form.cleaned_data["cases"],
                request_meta=BallotRequest.from_request(
                    request, form.cleaned_data["token"], form.cleaned_data["website"]
                ),
                now=now,
            )
        except BallotRefused as refusal:
            form.add_error(None, refusal.message)
            status = refusal.status_code
            existing = refusal.ballot if isinstance(refusal, AlreadyVoted) else None
        else:
            return redirect("ballots:confirmation", result.ballot.receipt)
    form.renew_token(make_form_token(request.follower.pk, batch.pk))
    context = {
        "batch": batch,
        "rules": voting_rules(batch, len(current.votable), now),
        "form": form,
        "existing": existing,
        "next_vote_at": next_vote_at(batch, now) if existing else None,
        "preview": not batch.is_published,
        "also_open": [
            other.batch
            for other in catalogue.published().values()
            if other.batch.pk != batch.pk and other.batch.is_open(now)
        ],
    }
    return render(request, "ballots/vote.html", context, status=status)


@require_safe
@follow_required
@cache_control(private=True, no_store=True)
def confirmation(request, receipt: str):
    """After a ballot: what was chosen, the receipt, when to vote again. Only for its voter."""
    code = normalise_receipt(receipt)  # e.g. a NUL byte, which PostgreSQL refuses (a 500)
    if code is None:
        raise Http404("回执码格式不正确")
    ballot = get_object_or_404(
        Ballot.objects.select_related("batch"), receipt=code, follower=request.follower
    )
    cases = Case.objects.filter(choices__ballot=ballot).order_by("number")
    return render(
        request,
        "ballots/confirmation.html",
        {
            "ballot": ballot,
            "cases": cases,
            "next_vote_at": next_vote_at(ballot.batch, timezone.now()),
        },
    )


def normalise_receipt(code: str) -> str | None:
    code = code.strip().upper()
    if len(code) != RECEIPT_LENGTH or any(ch not in RECEIPT_ALPHABET for ch in code):
        return None
    return code


@require_safe
def receipt(request, code: str):
    """Public: whether a ballot is counted. Never shows who voted or for whom."""
    normalised = normalise_receipt(code)
    if normalised is None:
        raise Http404("回执码格式不正确")
    ballot = get_object_or_404(Ballot.objects.select_related("batch"), receipt=normalised)
    return render(request, "ballots/receipt.html", {"ballot": ballot})


@require_safe
@cached_page(seconds_setting="CASEVOTE_RESULTS_CACHE_SECONDS")
def results(request, number: int | None = None):
    """A batch's results (without a number: the batch the campaign shows first)."""
    now = timezone.now()
    batch = get_batch_or_404(request, number, now)
    context = {
        "batch": batch,
        "visible": batch.results_visible(now),
        "closed": batch.has_closed(now),
        "preview": not batch.is_published,
    }
    if context["visible"]:
        context["results"] = tally.results(batch)
    response = render(request, "ballots/results.html", context)
    # Do not keep the page past the moment voting opens or closes: results may appear
    # then ("after close"), and which batch /results/ shows may change.
    changes = [batch.next_change(now)]
    if number is None:
        changes += [other.next_change(now) for other in Batch.objects.published()]
    if moments := [moment for moment in changes if moment is not None]:
        response.cache_seconds = int((min(moments) - now).total_seconds())
    return response


@require_safe
@cached_page()
def announcements(request):
    """Every batch's announcements, newest first (a draft's stay with staff)."""
    items = (
        Announcement.objects.public()
        .select_related("case", "batch")
        .order_by("-published_at", "-pk")
    )
    return render(request, "ballots/announcements.html", {"announcements": items})


@require_safe
@cached_page()
def announcement(request, pk: int):
    item = get_object_or_404(Announcement.objects.select_related("case", "batch"), pk=pk)
    preview = require_visible(request, item.batch)
    return render(request, "ballots/announcement.html", {"announcement": item, "preview": preview})


@require_safe
@cached_page()
def selected(request):
    """The campaign's final list (入选名单): each published batch's part, once the
    committee has published it, grouped by batch; the parts still to come are named."""
    parts = []
    for batch in Batch.objects.published().order_by("number"):
        cases = []
        if batch.selected_published_at is not None:
            cases = list(batch.cases.filter(status=Case.Status.SELECTED).order_by("number"))
        parts.append({"batch": batch, "cases": cases})
    published = [part for part in parts if part["batch"].selected_published_at]
    return render(
        request,
        "ballots/selected.html",
        {"parts": parts, "published": published, "total": sum(len(p["cases"]) for p in parts)},
    )
