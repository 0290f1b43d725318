"""Batches and cases as the committee sees them in the admin.

The catalogue's admin (`cases.admin`) is the editors'; here it is extended, not
copied, with what belongs to the vote: the voting settings the committee edits, vote
counts for those who may see them, the 刷票监测 page, CSV exports, and the decisions
on batches and cases (each with a reason; the public ones with an announcement).
"""

from functools import partial

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from ballots import access, exports, moderation, tally
from ballots.admin.actions import admin_path, confirmed_action, each
from ballots.forms_admin import AnnouncedDecisionForm, ReasonForm
from cases.admin import VOTING_FIELDS, BatchAdmin, CaseAdmin
from cases.models import Batch, Case

admin.site.unregister([Batch, Case])

MONITORING_URL = "cases_batch_monitoring"

PUBLISHING = {
    "permission": "publish",
    "unit": "批次",
    "summary": "{verb}后公众即可看到，且不能撤回。",
}
SELECTING = {"permission": "select", "unit": "案例", "summary": "将对所选的 {count} 个案例{verb}。"}


def votes_column(request):
    """The valid-votes column, for this viewer: "—" while they may not see counts."""

    @admin.display(description="有效票")
    def votes(case: Case) -> str | int:
        if not access.may_see_votes(request.user, case.batch, timezone.now()):
            return "—"
        counts, _ = tally.count_votes(case.batch)
        return counts.get(case.pk, 0)

    return votes


def reasoned_action(name: str, verb: str, decide, *, permission: str, unit: str, summary: str):
    """An action taken on each selected batch or case after one reason is given."""

    @admin.action(description=verb, permissions=[permission])
    def action(modeladmin, request, queryset):
        return confirmed_action(
            modeladmin,
            request,
            queryset,
            ReasonForm,
            each(
                modeladmin,
                request,
                queryset,
                partial(decide, user=request.user),
                lambda done: f"已{verb} {done} 个{unit}。",
            ),
            title=verb,
            summary=summary.format(verb=verb, count=queryset.count()),
            submit_label=f"确认{verb}",
            action=name,
            items=queryset,
        )

    action.__name__ = name
    return action


def announced_action(name: str, verb: str, decide, *, default_title: str):
    """A case action published with an announcement: one case at a time."""

    @admin.action(description=f"{verb}（并发布公告）", permissions=["decide"])
    def action(modeladmin, request, queryset):
        if queryset.count() != 1:
            modeladmin.message_user(
                request, "请只选择一个案例：每个决定单独发布公告。", messages.ERROR
            )
            return None
        case = queryset.select_related("batch").get()

        def announce(data):
            decide(case, user=request.user, **data)
            return f"已{verb}：{case}。公告已发布。"

        return confirmed_action(
            modeladmin,
            request,
            queryset,
            partial(AnnouncedDecisionForm, initial={"title": default_title.format(case=case)}),
            announce,
            title=f"{verb}：{case}",
            summary="这个决定和公告会公开，并记入审计记录；不能修改或删除，只能以新的决定撤回。",
            submit_label=f"确认{verb}并发布公告",
            action=name,
        )

    action.__name__ = name
    return action


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
        monitoring = admin_path(
            self, "<int:batch_id>/monitoring/", self.monitoring_view, MONITORING_URL
        )
        return [monitoring, *super().get_urls()]

    def monitoring_view(self, request, batch_id: int):
        if not access.may_see_evidence(request.user):
            raise PermissionDenied
        from ballots.monitoring import monitoring_view  # the detector loads only when used

        return monitoring_view(request, batch_id)

    @admin.display(description="刷票监测")
    def monitoring_link(self, batch: Batch) -> str:
        url = reverse(f"admin:{MONITORING_URL}", args=[batch.pk])
        return format_html('<a href="{}">刷票监测</a>', url)

    publish_results = reasoned_action(
        "publish_results", "公布投票结果", moderation.publish_results, **PUBLISHING
    )
    publish_selected = reasoned_action(
        "publish_selected", "公布入选名单", moderation.publish_selected, **PUBLISHING
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

    disqualify = announced_action(
        "disqualify",
        "取消推选资格",
        moderation.disqualify_case,
        default_title="关于取消{case.display_number}号案例推选资格的公告",
    )
    reinstate = announced_action(
        "reinstate",
        "恢复推选资格",
        moderation.reinstate_case,
        default_title="关于恢复{case.display_number}号案例推选资格的公告",
    )
    select = reasoned_action("select", "确定入选", moderation.select_case, **SELECTING)
    unselect = reasoned_action("unselect", "撤销入选", moderation.unselect_case, **SELECTING)
