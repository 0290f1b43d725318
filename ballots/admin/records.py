"""The committee's records in the admin: followers, ballots and their voids, decisions,
announcements, expert reviews, detector runs, anonymisations and the follow events WeChat
pushes. Read-only, except the expert reviews the committee writes; ballots change only
through recorded decisions."""

import ipaddress

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from ballots import access, moderation
from ballots.admin.actions import PREVIEW_ITEMS, ReadOnlyAdmin, admin_path, confirmed_action
from ballots.forms_admin import ReasonForm, SliceForm, VoidForm
from ballots.models import (
    Alert,
    Announcement,
    Anonymisation,
    Ballot,
    Choice,
    Decision,
    DetectionRun,
    ExpertReview,
    Follower,
    FollowEvent,
)
from ballots.network import unmapped_network


class ChoiceInline(admin.TabularInline):
    model = Choice
    fields = ["case"]
    readonly_fields = ["case"]
    extra = 0
    can_delete = False
    has_add_permission = has_change_permission = ReadOnlyAdmin.has_add_permission


VOID_SLICE_URL = "ballots_ballot_void_slice"


def ballot_status_action(name: str, verb: str, change, form_class, *, summary: str, done: str):
    """Void or restore the selected ballots: one recorded decision for all of them."""

    @admin.action(description=f"{verb}所选选票", permissions=["void"])
    def action(modeladmin, request, queryset):
        def decide(data):
            outcome = change(queryset, user=request.user, scope={"kind": "selected"}, **data)
            return done.format(changed=outcome.changed, unchanged=outcome.unchanged)

        return confirmed_action(
            modeladmin,
            request,
            queryset,
            form_class,
            decide,
            title=f"{verb}选票",
            summary=summary.format(count=queryset.count()),
            submit_label=f"确认{verb}",
            action=name,
            items=queryset[:PREVIEW_ITEMS],
        )

    action.__name__ = name
    return action


@admin.register(Follower)
class FollowerAdmin(ReadOnlyAdmin):
    list_display = ["id", "backend", "followed_at", "unfollowed_at", "created_at"]
    list_filter = ["backend"]
    date_hierarchy = "followed_at"


@admin.register(Ballot)
class BallotAdmin(ReadOnlyAdmin):
    list_display = ["receipt", "batch", "cast_at", "status", "ip_address", "ip_subnet", "device_id"]
    list_filter = ["status", "batch", "cast_day", "cases"]
    search_fields = ["=receipt"]
    date_hierarchy = "cast_at"
    list_select_related = ["batch"]
    list_per_page = 100
    show_full_result_count = False
    inlines = [ChoiceInline]
    actions = ["void_selected", "restore_selected"]

    def has_void_permission(self, request) -> bool:
        return access.may_void(request.user)

    def get_urls(self):
        void_slice = admin_path(self, "void-slice/", self.void_slice_view, VOID_SLICE_URL)
        return [void_slice, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = extra_context or {}
        if self.has_void_permission(request):
            extra_context["void_slice_url"] = reverse(f"admin:{VOID_SLICE_URL}")
        return super().changelist_view(request, extra_context)

    void_selected = ballot_status_action(
        "void_selected",
        "作废",
        moderation.void_ballots,
        VoidForm,
        summary="将作废所选的 {count} 张选票中仍然有效的选票。选票不会被删除，可以恢复。",
        done="已作废 {changed} 张选票（{unchanged} 张原本已作废）。",
    )
    restore_selected = ballot_status_action(
        "restore_selected",
        "恢复",
        moderation.restore_ballots,
        ReasonForm,
        summary="将恢复所选的 {count} 张选票中已作废的选票，它们将重新计入统计。",
        done="已恢复 {changed} 张选票。",
    )

    def void_slice_view(self, request):
        """Void every ballot of an address or network within a time range."""
        if not self.has_void_permission(request):
            raise PermissionDenied
        form = SliceForm(request.POST or None)
        preview = None
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            ballots = slice_ballots(data["subnet"], data["start"], data["end"])
            if ballots is None:
                form.add_error("subnet", "请填写有效的 IP 地址或网段。")
            elif "confirm" in request.POST:
                try:
                    outcome = moderation.void_ballots(
                        ballots,
                        user=request.user,
                        reason=data["reason"],
                        public_reason=data["public_reason"],
                        scope={
                            "kind": "slice",
                            "network": data["subnet"],
                            "start": data["start"].isoformat(),
                            "end": data["end"].isoformat(),
                        },
                    )
                except moderation.DecisionRefused as refusal:
                    form.add_error(None, refusal.message)
                else:
                    self.message_user(request, f"已作废 {outcome.changed} 张选票。")
                    return redirect("admin:ballots_ballot_changelist")
            else:
                preview = ballots.count()
        return TemplateResponse(
            request,
            "admin/ballots/void_slice.html",
            {
                **self.admin_site.each_context(request),
                "title": "按网段和时间作废选票",
                "form": form,
                "preview": preview,
                "opts": self.model._meta,
            },
        )


def slice_ballots(network_text: str, start, end):
    """Ballots cast from an address or network in [start, end); None if not an address."""
    try:
        network = unmapped_network(ipaddress.ip_network(network_text.strip(), strict=False))
    except ValueError:
        return None
    ballots = Ballot.objects.filter(cast_at__gte=start, cast_at__lt=end)
    if network.num_addresses == 1:
        return ballots.filter(ip_address=str(network.network_address))
    if network.version == 4 and network.prefixlen == 24:
        return ballots.filter(ip_subnet=str(network))
    if network.version == 6 and network.prefixlen == 64:
        return ballots.filter(ip_network=str(network))
    # Other prefixes: match addresses one by one (bounded by the time range).
    ids = [
        pk
        for pk, address in ballots.exclude(ip_address=None).values_list("pk", "ip_address")
        if ipaddress.ip_address(address) in network
    ]
    return Ballot.objects.filter(pk__in=ids)


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = ["decided_at", "kind", "batch", "case", "reason", "maker", "ballot_count"]
    list_filter = ["kind", "batch", "decided_by"]
    date_hierarchy = "decided_at"
    search_fields = ["reason", "public_reason", "case__title"]
    list_select_related = ["batch", "case", "decided_by"]
    readonly_fields = [
        "kind",
        "batch",
        "case",
        "reason",
        "public_reason",
        "scope",
        "detector_version",
        "evidence",
        "decided_by",
        "decided_via",
        "decided_at",
    ]
    exclude = ["ballots"]

    @admin.display(description="决定人", ordering="decided_by")
    def maker(self, decision: Decision) -> str:
        return decision.maker_display

    @admin.display(description="涉及选票")
    def ballot_count(self, decision: Decision) -> int | str:
        return decision.scope.get("ballots", "—") if decision.scope else "—"


@admin.register(Announcement)
class AnnouncementAdmin(ReadOnlyAdmin):
    list_display = ["published_at", "title", "case", "batch"]
    list_filter = ["batch"]
    search_fields = ["title", "body"]


@admin.register(ExpertReview)
class ExpertReviewAdmin(admin.ModelAdmin):
    list_display = ["case", "score", "case_status", "updated_at"]
    list_filter = ["case__batch", "case__status"]
    search_fields = ["case__title", "=case__number"]
    list_select_related = ["case"]
    autocomplete_fields = ["case"]
    ordering = ["case__number"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="状态")
    def case_status(self, review: ExpertReview) -> str:
        return review.case.get_status_display()


class EvidenceRecordAdmin(ReadOnlyAdmin):
    """Records that come with the `view_evidence` permission rather than a model's own."""

    def has_view_permission(self, request, obj=None) -> bool:
        return access.may_see_evidence(request.user)

    def has_module_permission(self, request) -> bool:
        return access.may_see_evidence(request.user)


@admin.register(DetectionRun)
class DetectionRunAdmin(EvidenceRecordAdmin):
    """The detector's stored runs (see ballots.snapshots), for whoever may see evidence."""

    list_display = ["started_at", "batch", "ballots", "seconds", "detector_version"]
    list_filter = ["batch", "detector_version"]
    date_hierarchy = "started_at"
    readonly_fields = [
        "batch",
        "detector_version",
        "started_at",
        "seconds",
        "ballots",
        "newest_ballot_id",
        "newest_decision_id",
        "reports",
    ]


@admin.register(Alert)
class AlertAdmin(EvidenceRecordAdmin):
    """The alerts watch_brushing sent (ballots.alerts): which case rose to what, and
    whether each channel delivered it, for whoever may see evidence."""

    list_display = [
        "created_at",
        "batch",
        "case_label",
        "previous_verdict",
        "verdict",
        "email_state",
        "wecom_state",
    ]
    list_filter = ["batch", "verdict", "email_state", "wecom_state"]
    search_fields = ["=case_number"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "batch",
        "case_number",
        "previous_verdict",
        "verdict",
        "run",
        "reasons",
        "created_at",
        "email_state",
        "email_attempts",
        "email_error",
        "wecom_state",
        "wecom_attempts",
        "wecom_error",
    ]

    @admin.display(description="案例", ordering="case_number")
    def case_label(self, alert: Alert) -> str:
        return f"{alert.case_number:03d}"


@admin.register(Anonymisation)
class AnonymisationAdmin(EvidenceRecordAdmin):
    """Runs of `anonymise_ballots`: when each batch's personal data was stripped."""

    list_display = ["done_at", "batch", "ballots", "followers"]
    list_filter = ["batch"]


@admin.register(FollowEvent)
class FollowEventAdmin(EvidenceRecordAdmin):
    """Follows and unfollows the official account pushed: the evidence behind followers'
    follow and unfollow times, for whoever may see evidence."""

    list_display = ["created_at", "kind", "openid", "event_key", "received_at"]
    list_filter = ["kind"]
    search_fields = ["=openid"]
    date_hierarchy = "created_at"
    list_per_page = 100
    show_full_result_count = False
    readonly_fields = ["openid", "kind", "created_at", "event_key", "received_at"]
