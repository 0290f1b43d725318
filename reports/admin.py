"""The committee's queue of reports: new ones first, filtered by kind, case and status.

A report is never added, edited or deleted here: its status changes, with a note, only
as a recorded `ReportDecision` (reports.services.review_report). Screenshots open
through a view that checks the permission; editors see none of it.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Case as When_
from django.db.models import Count, IntegerField, Value, When
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from ballots.admin.actions import ReadOnlyAdmin, admin_path
from reports.models import FraudNotice, Report, ReportDecision, Screenshot
from reports.services import NOTE_MIN_LENGTH, ReportRefused, review_report, storage

REVIEW_REPORTS = "reports.review_reports"
SCREENSHOT_URL = "reports_report_screenshot"
STATUS_ORDER = [Report.Status.RECEIVED, Report.Status.REVIEWING, Report.Status.CLOSED]
# The screenshot view's answer is an image to look at, never a page to run.
SCREENSHOT_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


def may_review(user) -> bool:
    """Read reports' contact details and screenshots, change their status."""
    return user.has_perm(REVIEW_REPORTS)


class ReviewForm(forms.ModelForm):
    new_status = forms.ChoiceField(label="处理后状态", choices=Report.Status.choices)
    note = forms.CharField(
        label="处理意见（内部，举报人看不到）",
        min_length=NOTE_MIN_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=f"每次保存都记入处理记录（谁、何时、为什么）。至少 {NOTE_MIN_LENGTH} 个字。",
    )

    class Meta:
        model = Report
        fields = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_status"].initial = self.instance.status


class ScreenshotInline(admin.TabularInline):
    model = Screenshot
    fields = ["number", "link", "content_type", "width", "height", "size", "removed_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    has_add_permission = has_change_permission = ReadOnlyAdmin.has_add_permission

    @admin.display(description="截图")
    def link(self, shot: Screenshot) -> str:
        if not shot.name:
            return "已删除"
        url = reverse(f"admin:{SCREENSHOT_URL}", args=[shot.report_id, shot.number])
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">查看截图 {}</a>', url, shot.number
        )


class DecisionInline(admin.TabularInline):
    model = ReportDecision
    fields = ["decided_at", "decided_by", "from_status", "to_status", "note"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "处理记录"
    has_add_permission = has_change_permission = ReadOnlyAdmin.has_add_permission


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    form = ReviewForm
    list_display = ["code_display", "status", "kind", "case", "happened_on", "filed_at", "shots"]
    list_filter = ["status", "kind", ("case", admin.RelatedOnlyFieldListFilter), "filed_at"]
    search_fields = ["code", "description"]
    date_hierarchy = "filed_at"
    list_select_related = ["case"]
    inlines = [ScreenshotInline, DecisionInline]
    readonly_fields = [
        "code_display",
        "status",
        "kind",
        "case",
        "evidence_link",
        "happened_on",
        "description",
        "contact_name",
        "contact_details",
        "filed_at",
        "status_changed_at",
        "anonymised_at",
    ]
    fieldsets = [
        (None, {"fields": ["code_display", "status", "kind", "case", "evidence_link"]}),
        ("举报内容", {"fields": ["happened_on", "description"]}),
        ("举报人（个人信息，仅组委会可见）", {"fields": ["contact_name", "contact_details"]}),
        ("时间", {"fields": ["filed_at", "status_changed_at", "anonymised_at"]}),
        ("处理", {"fields": ["new_status", "note"]}),
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("case__batch")
            .annotate(screenshot_count=Count("screenshots"))
        )

    def get_ordering(self, request):
        """New reports first, then those under review, then closed; each newest first."""
        rank = When_(
            *(When(status=status, then=Value(i)) for i, status in enumerate(STATUS_ORDER)),
            output_field=IntegerField(),
        )
        return [rank.asc(), "-filed_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return may_review(request.user)

    def get_fieldsets(self, request, obj=None):
        if self.has_change_permission(request, obj):
            return self.fieldsets
        return self.fieldsets[:-1]

    def save_model(self, request, obj, form, change) -> None:
        """The form changes no field itself: the review is one recorded decision."""
        try:
            review_report(
                obj,
                user=request.user,
                to_status=form.cleaned_data["new_status"],
                note=form.cleaned_data["note"],
                now=timezone.now(),
            )
        except ReportRefused as refusal:
            self.message_user(request, refusal.message, messages.ERROR)

    @admin.display(description="截图")
    def shots(self, report: Report) -> int:
        return report.screenshot_count

    @admin.display(description="查询码")
    def code_display(self, report: Report) -> str:
        return report.code_display

    @admin.display(description="刷票监测证据")
    def evidence_link(self, report: Report) -> str:
        if report.case_id is None:
            return "—"
        url = reverse("admin:cases_batch_monitoring", args=[report.case.batch_id])
        return format_html(
            '<a href="{}?case={}">第{}批刷票监测：{}号案例</a>',
            url,
            report.case.display_number,
            report.case.batch.number,
            report.case.display_number,
        )

    def get_urls(self):
        screenshot = admin_path(
            self, "<int:report_id>/screenshots/<int:number>/", self.screenshot_view, SCREENSHOT_URL
        )
        return [screenshot, *super().get_urls()]

    def screenshot_view(self, request, report_id: int, number: int):
        """A screenshot, to a committee member only; an image that cannot act as a page."""
        if not may_review(request.user):
            raise PermissionDenied
        shot = get_object_or_404(Screenshot, report_id=report_id, number=number)
        if not shot.name:
            raise Http404("截图已按保留期限删除")
        filename = f"report-{report_id}-{number}{shot.name[shot.name.rfind('.') :]}"
        try:
            handle = storage().open(shot.name, "rb")
        except FileNotFoundError:
            raise Http404("截图文件不在存储中") from None
        response = FileResponse(
            handle,
            content_type=shot.content_type,
            as_attachment=False,
            filename=filename,
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = SCREENSHOT_CSP
        response["Cache-Control"] = "private, no-store"
        return response


@admin.register(ReportDecision)
class ReportDecisionAdmin(ReadOnlyAdmin):
    list_display = ["decided_at", "report", "from_status", "to_status", "decided_by"]
    list_filter = ["to_status", "decided_at"]
    list_select_related = ["report", "decided_by"]
    date_hierarchy = "decided_at"


@admin.register(FraudNotice)
class FraudNoticeAdmin(admin.ModelAdmin):
    """Each edit adds a new notice (the newest is shown); earlier ones stay as history."""

    list_display = ["title", "edited_at", "edited_by"]
    fields = ["title", "body"]
    date_hierarchy = "edited_at"

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_changeform_initial_data(self, request) -> dict:
        current = FraudNotice.objects.first()
        return {"title": current.title, "body": current.body} if current else {}

    def save_model(self, request, obj, form, change) -> None:
        obj.edited_by = request.user
        obj.edited_at = timezone.now()
        obj.save()
