"""The confirm-then-decide flow of the committee's admin actions, written once.

An action that changes something first shows what it will change and asks for a
reason (and, for some, an announcement); only a confirmed, valid form runs the
decision. A `DecisionRefused` becomes a message, never a traceback.
"""

from collections.abc import Callable, Iterable

from django.contrib import admin, messages
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from ballots.moderation import DecisionRefused

PREVIEW_ITEMS = 20


def _never(modeladmin, request, obj=None) -> bool:
    return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Evidence and decisions are never added, edited or deleted through the admin."""

    has_add_permission = has_change_permission = has_delete_permission = _never


def admin_path(modeladmin: admin.ModelAdmin, route: str, view, name: str) -> URLPattern:
    """One more page of a model's admin, behind the admin's login and staff check."""
    return path(route, modeladmin.admin_site.admin_view(view), name=name)


def decision_page(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset,
    form,
    *,
    title: str,
    summary: str,
    submit_label: str,
    action: str | None = None,
    items=(),
) -> TemplateResponse:
    """The intermediate page of an admin action: what it will change, and the form."""
    items = list(items)
    select_across = request.POST.get("select_across") == "1"
    return TemplateResponse(
        request,
        "admin/ballots/decision_form.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "summary": summary,
            "items": items[:PREVIEW_ITEMS],
            "more": max(0, len(items) - PREVIEW_ITEMS),
            "form": form,
            "action": action,
            "select_across": select_across,
            "selected_ids": [] if select_across else list(queryset.values_list("pk", flat=True)),
            "submit_label": submit_label,
            "back_url": request.get_full_path(),
            "opts": modeladmin.model._meta,
        },
    )


def confirmed_action(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset,
    form_class,
    decide: Callable[[dict], str],
    **page,
) -> TemplateResponse | None:
    """Show the decision page; once confirmed and valid, run `decide(cleaned_data)`
    (which returns the message for the committee member) or report its refusal."""
    confirming = "confirm" in request.POST
    form = form_class(request.POST if confirming else None)
    if not (form.is_bound and form.is_valid()):
        return decision_page(modeladmin, request, queryset, form, **page)
    try:
        modeladmin.message_user(request, decide(form.cleaned_data))
    except DecisionRefused as refusal:
        modeladmin.message_user(request, refusal.message, messages.ERROR)
    return None


def each(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    items: Iterable,
    decide_one: Callable,
    summary: Callable[[int], str],
) -> Callable[[dict], str]:
    """A `decide` for `confirmed_action` that takes one decision per item: each refusal
    is reported and the others go ahead; returns the summary of how many were taken."""

    def decide(data: dict) -> str:
        done = 0
        for item in items:
            try:
                decide_one(item, **data)
            except DecisionRefused as refusal:
                modeladmin.message_user(request, refusal.message, messages.WARNING)
            else:
                done += 1
        return summary(done)

    return decide
