from collections.abc import Sequence

from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_http_methods, require_safe

from ballots import tally
from ballots.decorators import follow_required, with_device_id
from ballots.errors import AlreadyVoted, BallotRefused, FormRejected
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
from cases import catalogue, freshness
from cases.models import Batch, Case
from cases.pagecache import cached_page


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


def ballot_form(request, batch: Batch, votable: Sequence[Case], data=None) -> BallotForm:
    """A ballot form carrying a fresh signed token (and the voter's previous choices)."""
    token = make_form_token(request.follower.pk, batch.pk)
    if data is None:
        return BallotForm(initial={"token": token}, votable_cases=votable)
    data = data.copy()
    data["token"] = token
    form = BallotForm(data, votable_cases=votable)
    form.is_valid()
    return form


@require_http_methods(["GET", "HEAD", "POST"])
@with_device_id
@follow_required
@cache_control(private=True, no_store=True)
def vote(request):
    current = get_current_catalogue_or_404()
    batch, votable = current.batch, current.votable
    now = timezone.now()
    context = {"batch": batch, "rules": voting_rules(batch, len(votable), now)}
    status = 200
    if request.method == "POST":
        submitted = BallotForm(request.POST, votable_cases=votable)
        try:
            if not submitted.is_valid():  # e.g. a NUL byte in the token or the honeypot
                raise FormRejected("提交失败，请刷新页面后重试。")
            result = cast_ballot(
                follower=request.follower,
                catalogue=current,
                cases=submitted.cleaned_data["cases"],
                request_meta=BallotRequest.from_request(
                    request, submitted.cleaned_data["token"], submitted.cleaned_data["website"]
                ),
                now=now,
            )
        except BallotRefused as refusal:
            form = ballot_form(request, batch, votable, data=request.POST)
            form.add_error(None, refusal.message)
            if isinstance(refusal, AlreadyVoted):
                context["existing"] = refusal.ballot
            context["form"] = form
            status = refusal.status_code
        else:
            return redirect("ballots:confirmation", result.ballot.receipt)
    else:
        context["existing"] = find_existing(request.follower, batch, voting_period(batch, now))
        context["form"] = ballot_form(request, batch, votable)
    if context.get("existing"):
        context["next_vote_at"] = next_vote_at(batch, now)
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
@cached_page(freshness.CATALOGUE, freshness.TALLY, seconds_setting="CASEVOTE_RESULTS_CACHE_SECONDS")
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
