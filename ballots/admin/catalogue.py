"""Batches and cases as the committee sees them in the admin.

The catalogue's admin (`cases.admin`) is the editors'; here it is extended, not
copied, with what belongs to the vote: the voting settings the committee edits, vote
counts for those who may see them, the 刷票监测 page, CSV exports, and the decisions
on batches and cases (each with a reason; the public ones with an announcement).
"""

from functools import partial

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from ballots import access, exports, moderation, tally
from ballots.admin.actions import confirmed_action, each
from ballots.forms_admin import AnnouncedDecisionForm, ReasonForm
from cases.admin import VOTING_FIELDS, BatchAdmin, CaseAdmin
from cases.models import Batch, Case

admin.site.unregister([Batch, Case])


def votes_column(request):
    """The valid-votes column, for this viewer: "—" while they may not see counts."""

    @admin.display(description="有效票")
    def votes(case: Case) -> str | int:
        if not access.may_see_votes(request.user, case.batch, timezone.now()):
            return "—"
        counts, _ = tally.count_votes(case.batch)
        return counts.get(case.pk, 0)

    return votes


@admin.register(Batch)
class CommitteeBatchAdmin(BatchAdmin):
    list_display = [
        *BatchAdmin.list_display,
        "results_published_at",
        "selected_published_at",
        "monitoring_link",
    ]
    actions = ["publish_results", "publish_selected", "export_votes", "export_timeline"]

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        if access.may_publish(request.user):  # the committee sets the voting rules
            readonly = [field for field in readonly if field not in VOTING_FIELDS]
        return readonly

    def has_publish_permission(self, request) -> bool:
        return access.may_publish(request.user)

    def has_view_votes_permission(self, request) -> bool:
        return access.may_see_votes_early(request.user)

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
        if not access.may_see_evidence(request.user):
            raise PermissionDenied
        from ballots.monitoring import monitoring_view  # the detector loads only when used

        return monitoring_view(request, batch_id)

    @admin.display(description="刷票监测")
    def monitoring_link(self, batch: Batch) -> str:
        url = reverse("admin:cases_batch_monitoring", args=[batch.pk])
        return format_html('<a href="{}">刷票监测</a>', url)

    def _publish(self, request, queryset, *, action: str, verb: str, publish):
        return confirmed_action(
            self,
            request,
            queryset,
            ReasonForm,
            each(self, request, queryset, publish, lambda done: f"已{verb}：{done} 个批次。"),
            title=verb,
            summary=f"{verb}后公众即可看到，且不能撤回。",
            submit_label=f"确认{verb}",
            action=action,
            items=queryset,
        )

    @admin.action(description="公布投票结果", permissions=["publish"])
    def publish_results(self, request, queryset):
        return self._publish(
            request,
            queryset,
            action="publish_results",
            verb="公布投票结果",
            publish=partial(moderation.publish_results, user=request.user),
        )

    @admin.action(description="公布入选名单", permissions=["publish"])
    def publish_selected(self, request, queryset):
        return self._publish(
            request,
            queryset,
            action="publish_selected",
            verb="公布入选名单",
            publish=partial(moderation.publish_selected, user=request.user),
        )

    @admin.action(description="导出各案例得票（CSV）", permissions=["view_votes"])
    def export_votes(self, request, queryset):
        return exports.votes_csv(list(queryset))

    @admin.action(description="导出每日选票数（CSV）", permissions=["view_votes"])
    def export_timeline(self, request, queryset):
        return exports.timeline_csv(list(queryset))


@admin.register(Case)
class CommitteeCaseAdmin(CaseAdmin):
    actions = ["disqualify", "reinstate", "select", "unselect"]

    def has_decide_permission(self, request) -> bool:
        return access.may_decide_cases(request.user)

    def has_select_permission(self, request) -> bool:
        return access.may_select(request.user)

    def get_list_display(self, request):
        return [*super().get_list_display(request), votes_column(request)]

    def _announced(self, request, queryset, *, action, verb, decide, default_title):
        """One case at a time: each decision publishes its own announcement."""
        if queryset.count() != 1:
            self.message_user(request, "请只选择一个案例：每个决定单独发布公告。", "error")
            return None
        case = queryset.select_related("batch").get()

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
        return confirmed_action(
            self,
            request,
            queryset,
            ReasonForm,
            each(
                self,
                request,
                queryset.select_related("batch"),
                partial(decide, user=request.user),
                lambda done: f"已{verb} {done} 个案例。",
            ),
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
