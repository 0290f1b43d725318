"""The anchor views: what plain Django does, written as the tutorial writes it."""

from django.db import transaction
from django.db.models import F
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .models import Ballot, Case, Choice


def bare(request):
    """Nothing but the default middleware: the ceiling for any Django page here."""
    return HttpResponse("ok", content_type="text/plain")


def index(request):
    """The tutorial's index, with the 30 cases: one query, one template, no cache."""
    return render(request, "tutorial/index.html", {"cases": Case.objects.order_by("number")})


def detail(request, number: int):
    return render(request, "tutorial/detail.html", {"case": get_object_or_404(Case, number=number)})


@csrf_exempt
@require_POST
def vote(request):
    """The tutorial's vote, for the cases posted (three in the benchmark): no CSRF, no
    identity, no budget, no rule. Counters move in primary-key order, so that two votes
    never wait on each other's rows in a cycle."""
    numbers = request.POST.getlist("cases")
    try:
        cases = list(Case.objects.filter(number__in=numbers).order_by("pk"))
    except ValueError:
        cases = []
    if not cases or len(cases) != len(numbers):
        return HttpResponseBadRequest("Choose existing cases, each once.")
    with transaction.atomic():
        ballot = Ballot.objects.create()
        Choice.objects.bulk_create(Choice(ballot=ballot, case=case) for case in cases)
        for case in cases:
            Case.objects.filter(pk=case.pk).update(votes=F("votes") + 1)
    return redirect("index")
