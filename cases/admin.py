"""Admin for the catalogue: editors manage batches and cases; the committee decides.

Editors (编辑) edit the catalogue fields; the committee (组委会) edits the voting
settings and takes decisions through actions that ask for a reason. Vote counts
show only to those allowed to see them while a batch's results are hidden.
"""

from functools import partial

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from ballots import exports, moderation, tally
from ballots.admin import confirmed_action, decision_page, is_confirmation
from ballots.forms_admin import AnnouncedDecisionForm, ReasonForm
from cases import freshness
from cases.models import Batch, Case

CATALOGUE_FIELDS = ["number", "name", "notice", "first_number", "last_number"]
VOTING_FIELDS = [
    "voting_opens_at",
    "voting_closes_at",
    "min_choices",
    "max_choices",
    "frequency",
    "results_visibility",
]
PUBLISHED_FIELDS = ["results_published_at", "selected_published_at"]


def is_editor(request: HttpRequest) -> bool:
    return request.user.has_perm("cases.add_case")


def is_committee(request: HttpRequest) -> bool:
    return request.user.has_perm("ballots.publish")


def may_see_votes(request: HttpRequest, batch: Batch) -> bool:
    return request.user.has_perm("ballots.view_votes") or batch.results_visible(timezone.now())


def votes_column(request: HttpRequest):
    """The valid-votes column, for this viewer: "—" while they may not see counts."""

    @admin.display(description="有效票")
    def votes(case: Case) -> str | int:
        if not may_see_votes(request, case.batch):
            return "—"
        counts, _ = tally.count_votes(case.batch)
        return counts.get(case.pk, 0)

    return votes


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "name",
        "number_range",
        "voting_opens_at",
        "voting_closes_at",
        "results_published_at",
        "selected_published_at",
        "monitoring_link",
    ]
    search_fields = ["name"]
    fieldsets = [
        (None, {"fields": CATALOGUE_FIELDS}),
        (
            "投票设置（北京时间）",
            {
                "fields": [
                    ("voting_opens_at", "voting_closes_at"),
                    ("min_choices", "max_choices"),
                    "frequency",
                    "results_visibility",
                ]
            },
        ),
        ("公布", {"fields": PUBLISHED_FIELDS}),
    ]
    actions = ["publish_results", "publish_selected", "export_votes", "export_timeline"]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(PUBLISHED_FIELDS)  # set by the publish decisions only
        if not is_editor(request) and obj is not None:
            readonly += CATALOGUE_FIELDS
        if not is_committee(request):
            readonly += VOTING_FIELDS
        return readonly

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        freshness.bump(freshness.CATALOGUE)

    def has_publish_permission(self, request) -> bool:
        return is_committee(request)

    def has_view_votes_permission(self, request) -> bool:
        return request.user.has_perm("ballots.view_votes")

    def get_urls(self):
        return [
            path(
                "<int:batch_id>/monitoring/",
                self.admin_site.admin_view(self.monitoring_view),
                name="cases_batch_monitoring",
            ),
            *super().get_urls(),
        ]

    def monitoring_view(self, request, batch_id: int):
        if not request.user.has_perm("ballots.view_evidence"):
            raise PermissionDenied
        from ballots.monitoring import monitoring_view  # the detector loads only when used

        return monitoring_view(request, batch_id)

    @admin.display(description="编号范围")
    def number_range(self, batch: Batch) -> str:
        return batch.number_range_display

    @admin.display(description="刷票监测")
    def monitoring_link(self, batch: Batch) -> str:
        url = reverse("admin:cases_batch_monitoring", args=[batch.pk])
        return format_html('<a href="{}">刷票监测</a>', url)

    def _publish(self, request, queryset, action: str, verb: str, publish):
        form = ReasonForm(request.POST if is_confirmation(request) else None)
        if form.is_bound and form.is_valid():
            for batch in queryset:
                try:
                    publish(batch, user=request.user, reason=form.cleaned_data["reason"])
                except moderation.DecisionRefused as refusal:
                    self.message_user(request, refusal.message, messages.ERROR)
                else:
                    self.message_user(request, f"已{verb}：第{batch.number}批。")
            return None
        return decision_page(
            self,
            request,
            queryset,
            form,
            title=verb,
            summary=f"{verb}后公众即可看到，且不能撤回。",
            submit_label=f"确认{verb}",
            action=action,
            items=queryset,
        )

    @admin.action(description="公布投票结果", permissions=["publish"])
    def publish_results(self, request, queryset):
        return self._publish(
            request, queryset, "publish_results", "公布投票结果", moderation.publish_results
        )

    @admin.action(description="公布入选名单", permissions=["publish"])
    def publish_selected(self, request, queryset):
        return self._publish(
            request, queryset, "publish_selected", "公布入选名单", moderation.publish_selected
        )

    @admin.action(description="导出各案例得票（CSV）", permissions=["view_votes"])
    def export_votes(self, request, queryset):
        return exports.votes_csv(list(queryset))

    @admin.action(description="导出每日选票数（CSV）", permissions=["view_votes"])
    def export_timeline(self, request, queryset):
        return exports.timeline_csv(list(queryset))


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ["display_number", "title", "province", "batch", "status"]
    list_display_links = ["display_number", "title"]
    list_filter = ["batch", "status", "province"]
    search_fields = ["title", "body", "=number"]
    list_select_related = ["batch"]
    ordering = ["number"]
    readonly_fields = ["status"]
    actions = ["disqualify", "reinstate", "select", "unselect"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        freshness.bump(freshness.CATALOGUE)

    def has_decide_permission(self, request) -> bool:
        return request.user.has_perm("ballots.decide_cases")

    def has_select_permission(self, request) -> bool:
        return request.user.has_perm("ballots.select_cases")

    def get_list_display(self, request):
        return [*super().get_list_display(request), votes_column(request)]

    @admin.display(description="编号", ordering="number")
    def display_number(self, case: Case) -> str:
        return case.display_number

    def _one_case(self, request, queryset) -> Case | None:
        if queryset.count() != 1:
            self.message_user(request, "请只选择一个案例：每个决定单独发布公告。", messages.ERROR)
            return None
        return queryset.select_related("batch").get()

    def _announced(self, request, queryset, *, action, verb, decide, default_title):
        case = self._one_case(request, queryset)
        if case is None:
            return None

        def announce(data):
            decide(case, user=request.user, **data)
            return f"已{verb}：{case}。公告已发布。"

        return confirmed_action(
            self,
            request,
            queryset,
            partial(AnnouncedDecisionForm, initial={"title": default_title.format(case=case)}),
            announce,
            title=f"{verb}：{case}",
            summary="这个决定和公告会公开，并记入审计记录；不能修改或删除，只能以新的决定撤回。",
            submit_label=f"确认{verb}并发布公告",
            action=action,
        )

    @admin.action(description="取消推选资格（并发布公告）", permissions=["decide"])
    def disqualify(self, request, queryset):
        return self._announced(
            request,
            queryset,
            action="disqualify",
            verb="取消推选资格",
            decide=moderation.disqualify_case,
            default_title="关于取消{case.display_number}号案例推选资格的公告",
        )

    @admin.action(description="恢复推选资格（并发布公告）", permissions=["decide"])
    def reinstate(self, request, queryset):
        return self._announced(
            request,
            queryset,
            action="reinstate",
            verb="恢复推选资格",
            decide=moderation.reinstate_case,
            default_title="关于恢复{case.display_number}号案例推选资格的公告",
        )

    def _selection(self, request, queryset, *, action, verb, decide):
        form = ReasonForm(request.POST if is_confirmation(request) else None)
        if form.is_bound and form.is_valid():
            done = 0
            for case in queryset.select_related("batch"):
                try:
                    decide(case, user=request.user, reason=form.cleaned_data["reason"])
                    done += 1
                except moderation.DecisionRefused as refusal:
                    self.message_user(request, refusal.message, messages.WARNING)
            self.message_user(request, f"已{verb} {done} 个案例。")
            return None
        return decision_page(
            self,
            request,
            queryset,
            form,
            title=verb,
            summary=f"将对所选的 {queryset.count()} 个案例{verb}。",
            submit_label=f"确认{verb}",
            action=action,
            items=queryset,
        )

    @admin.action(description="确定入选", permissions=["select"])
    def select(self, request, queryset):
        return self._selection(
            request, queryset, action="select", verb="确定入选", decide=moderation.select_case
        )

    @admin.action(description="撤销入选", permissions=["select"])
    def unselect(self, request, queryset):
        return self._selection(
            request, queryset, action="unselect", verb="撤销入选", decide=moderation.unselect_case
        )
