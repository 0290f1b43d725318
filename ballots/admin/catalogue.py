"""Batches and cases as the committee sees them in the admin.

The catalogue's admin (`cases.admin`) is the editors'; here it is extended, not
copied, with what belongs to the vote: the voting settings the committee edits, vote
counts for those who may see them, the 刷票监测 page, CSV exports, and the decisions
on batches and cases (each with a reason; the public ones with an announcement).
"""

from functools import partial

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from ballots import access, exports, moderation, publication, tally
from ballots.admin.actions import admin_path, confirmed_action, each
from ballots.forms_admin import AnnouncedDecisionForm, ReasonForm, VotingWindowForm
from ballots.moderation import REASON_MIN_LENGTH
from cases.admin import BatchAdmin, CaseAdmin
from cases.models import VOTING_FIELDS, Batch, Case

admin.site.unregister([Batch, Case])

MONITORING_URL = "cases_batch_monitoring"

PUBLISHING = {
    "permission": "publish",
    "unit": "批次",
    "summary": "{verb}后公众即可看到，且不能撤回。",
}
LIFECYCLE = {  # decisions on a batch's life on the site: each has its undo
    "permission": "publish",
    "unit": "批次",
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


def reasoned_action(
    name: str,
    verb: str,
    decide,
    *,
    permission: str,
    unit: str,
    summary: str,
    form=ReasonForm,
):
    """An action taken on each selected batch or case after one reason (and whatever
    else `form` asks) is given."""

    @admin.action(description=verb, permissions=[permission])
    def action(modeladmin, request, queryset):
        return confirmed_action(
            modeladmin,
            request,
            queryset,
            form,
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


class RuleChangeForm(forms.ModelForm):
    """The committee's batch form: once the batch is published, a change to its voting
    rules needs a reason, and is recorded as a decision when saved."""

    change_reason = forms.CharField(
        label="修改投票规则的理由",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="已发布的批次修改投票设置时必填，记入组委会决定。",
    )

    def clean(self):
        data = super().clean()
        instance = self.instance
        changed = [field for field in VOTING_FIELDS if field in self.changed_data]
        if instance.pk and changed and publication.needs_reason(instance):
            reason = (data.get("change_reason") or "").strip()
            if len(reason) < REASON_MIN_LENGTH:
                self.add_error(
                    "change_reason",
                    f"第{instance.number}批已经发布：修改投票设置请写明理由"
                    f"（至少 {REASON_MIN_LENGTH} 个字），它会记入组委会决定。",
                )
        return data


@admin.register(Batch)
class CommitteeBatchAdmin(BatchAdmin):
    list_display = [
        *BatchAdmin.list_display,
        "results_published_at",
        "selected_published_at",
        "monitoring_link",
    ]
    actions = [
        "publish_batch",
        "open_voting",
        "close_voting",
        "archive_batch",
        "unarchive_batch",
        "withdraw_batch",
        "publish_results",
        "publish_selected",
        "export_votes",
        "export_timeline",
    ]

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        if access.may_publish(request.user):  # the committee sets the voting rules
            readonly = [field for field in readonly if field not in VOTING_FIELDS]
        return readonly

    def get_form(self, request, obj=None, change=False, **kwargs):
        if access.may_publish(request.user) and obj is not None:
            kwargs["form"] = RuleChangeForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if access.may_publish(request.user) and obj is not None:
            fieldsets = [*fieldsets, ("修改记录", {"fields": ["change_reason"]})]
        return fieldsets

    def save_model(self, request, obj, form, change):
        """A published batch's rule change is saved with its decision (the admin's
        change view is one transaction)."""
        changes = {}
        if change and publication.needs_reason(obj):
            stored = Batch.objects.get(pk=obj.pk)
            values = {field: getattr(obj, field) for field in VOTING_FIELDS}
            changes = publication.rule_changes(stored, values)
        super().save_model(request, obj, form, change)
        if changes:
            publication.record_rule_change(
                obj, changes, user=request.user, reason=form.cleaned_data["change_reason"]
            )

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

    publish_batch = reasoned_action(
        "publish_batch",
        "发布批次",
        publication.publish_batch,
        summary="发布后公众即可看到本批和它的案例；案例不能再增加、移动或改编号。"
        "在有人投票之前可以撤回发布。",
        **LIFECYCLE,
    )
    withdraw_batch = reasoned_action(
        "withdraw_batch",
        "撤回发布",
        publication.withdraw_batch,
        summary="撤回后本批回到草稿，公众看不到；已有选票的批次不能撤回。",
        **LIFECYCLE,
    )
    open_voting = reasoned_action(
        "open_voting",
        "开放投票",
        publication.open_voting,
        summary="设定投票时间（北京时间）。只有已发布、未归档的批次可以投票。",
        form=VotingWindowForm,
        **LIFECYCLE,
    )
    close_voting = reasoned_action(
        "close_voting",
        "结束投票",
        publication.close_voting,
        summary="投票立即结束（尚未开始的投票则取消）；之后可以再次开放投票。",
        **LIFECYCLE,
    )
    archive_batch = reasoned_action(
        "archive_batch",
        "归档批次",
        publication.archive_batch,
        summary="归档的批次仍在网站上（案例、结果、公告），只是不再排在首页；可以取消归档。",
        **LIFECYCLE,
    )
    unarchive_batch = reasoned_action(
        "unarchive_batch",
        "取消归档",
        publication.unarchive_batch,
        summary="本批重新按投票状态排在首页。",
        **LIFECYCLE,
    )
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
