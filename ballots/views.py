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
from casevote.pagecache import cached_page


def get_current_batch_or_404() -> Batch:
    batch = Batch.objects.current()
    if batch is None:
        raise Http404("没有正在展示的批次")
    return batch


def get_current_catalogue_or_404() -> catalogue.Catalogue:
    """The same batch with its cases, from this worker's memory (the ballot's hot path)."""
    current = catalogue.current()
    if current is None:
        raise Http404("没有正在展示的批次")
    return current


@require_http_methods(["GET", "HEAD", "POST"])
@with_device_id
@follow_required
@cache_control(private=True, no_store=True)
def vote(request):
    current = get_current_catalogue_or_404()
    batch, now = current.batch, timezone.now()
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
def results(request):
    batch = get_current_batch_or_404()
    now = timezone.now()
    context = {"batch": batch, "visible": batch.results_visible(now)}
    if context["visible"]:
        context["results"] = tally.results(batch)
    response = render(request, "ballots/results.html", context)
    closes = batch.voting_closes_at
    if not context["visible"] and closes and batch.results_visibility == "after_close":
        # Do not keep "hidden" cached past the moment voting closes.
        response.cache_seconds = int((closes - now).total_seconds())
    return response


@require_safe
@cached_page()
def announcements(request):
    items = Announcement.objects.select_related("case").order_by("-published_at", "-pk")
    return render(request, "ballots/announcements.html", {"announcements": items})


@require_safe
@cached_page()
def announcement(request, pk: int):
    item = get_object_or_404(Announcement.objects.select_related("case", "batch"), pk=pk)
    return render(request, "ballots/announcement.html", {"announcement": item})


@require_safe
@cached_page()
def selected(request):
    """The final list (入选名单), once the committee has published it."""
    batch = get_current_batch_or_404()
    cases = []
    if batch.selected_published_at is not None:
        cases = list(batch.cases.filter(status=Case.Status.SELECTED).order_by("number"))
    return render(request, "ballots/selected.html", {"batch": batch, "cases": cases})
