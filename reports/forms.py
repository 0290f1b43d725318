from datetime import date, datetime, timedelta

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Div, Layout, Submit
from django import forms
from django.conf import settings
from django.utils import timezone

from cases.models import Case
from reports.models import Report
from reports.screenshots import ScreenshotRefused, clean_screenshot

HONEYPOT_FIELD = "website"
# Plain messages for lengths (Django's Chinese ones speak of a "variable").
LENGTHS = {
    "min_length": "请至少写 %(limit_value)d 个字（现在 %(show_value)d 个）。",
    "max_length": "最多 %(limit_value)d 个字（现在 %(show_value)d 个），请删减后再提交。",
}
OLDEST_DAYS = 366  # a report about something older than a year is no lead for this vote


class MultipleImageInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class ScreenshotsField(forms.FileField):
    """Up to CASEVOTE_REPORT_MAX_FILES images; each one checked and re-encoded here."""

    widget = MultipleImageInput(attrs={"accept": "image/jpeg,image/png,image/webp"})

    def clean(self, data, initial=None):
        uploads = [item for item in (data or []) if item] if isinstance(data, list) else []
        if data and not isinstance(data, list):
            uploads = [data]
        limit = settings.CASEVOTE_REPORT_MAX_FILES
        if len(uploads) > limit:
            raise forms.ValidationError(f"最多上传 {limit} 张截图，您选择了 {len(uploads)} 张。")
        cleaned, errors = [], []
        for number, upload in enumerate(uploads, start=1):
            name = (getattr(upload, "name", "") or f"第{number}张")[:60]
            try:
                cleaned.append(clean_screenshot(upload, name))
            except ScreenshotRefused as refusal:
                errors.append(refusal.message)
        if errors:
            raise forms.ValidationError(errors)
        return tuple(cleaned)


class CaseChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, case: Case) -> str:
        return f"{case.display_number} {case.title}"


class ReportForm(forms.Form):
    """The report's shape and each field's rules; the filing rules live in
    reports.services.file_report."""

    kind = forms.ChoiceField(
        label="举报什么", choices=Report.Kind.choices, widget=forms.RadioSelect
    )
    case = CaseChoiceField(
        label="涉及的案例",
        queryset=Case.objects.none(),
        required=False,
        to_field_name="number",
        empty_label="（不涉及具体案例）",
        help_text="举报刷票线索时必选。",
    )
    description = forms.CharField(
        label="发生了什么",
        min_length=10,
        max_length=3000,
        error_messages=LENGTHS,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="例如：谁、通过什么方式（电话、微信群、短信）、说了什么、要求付多少钱。至少 10 个字。",
    )
    happened_on = forms.DateField(
        label="发生日期",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日"],
    )
    contact_name = forms.CharField(
        label="您的称呼（选填）", max_length=50, required=False, error_messages=LENGTHS
    )
    contact_details = forms.CharField(
        label="联系方式（选填）",
        max_length=100,
        required=False,
        error_messages=LENGTHS,
        help_text="手机号、微信号或邮箱，方便组委会核实时联系您。只有组委会能看到。",
    )
    screenshots = ScreenshotsField(
        label="截图（选填，最多 3 张）",
        required=False,
        help_text="JPEG、PNG 或 WebP，每张不超过 8 MB。照片中的位置等信息会被去除。",
    )
    token = forms.CharField(widget=forms.HiddenInput, required=False)
    website = forms.CharField(
        label="网址（请留空）",
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        self.fields["case"].queryset = (
            Case.objects.filter(batch__published_at__isnull=False)
            .select_related("batch")
            .order_by("number")
        )
        self.fields["happened_on"].widget.attrs["max"] = today.isoformat()
        self.helper = FormHelper()
        self.helper.form_id = "report"
        self.helper.attrs = {"novalidate": ""}  # the server's Chinese messages, not the browser's
        self.helper.layout = Layout(
            "kind",
            "case",
            "description",
            "happened_on",
            "contact_name",
            "contact_details",
            "screenshots",
            "token",
            Div(HONEYPOT_FIELD, css_class="hp-field", aria_hidden="true"),
            Submit("submit", "提交举报", css_class="btn-lg w-100"),
        )

    def clean_happened_on(self) -> date:
        day = self.cleaned_data["happened_on"]
        if day > self.today:
            raise forms.ValidationError("发生日期不能晚于今天。")
        if day < self.today - timedelta(days=OLDEST_DAYS):
            raise forms.ValidationError("只受理一年以内发生的事情。")
        return day

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == Report.Kind.BRUSHING and not cleaned.get("case"):
            self.add_error("case", "举报刷票线索时，请选择涉及的案例。")
        return cleaned

    def renew_token(self, token: str) -> None:
        """The page is shown (again) with a fresh form token; what was typed stays."""
        if self.is_bound:
            self.data = self.data.copy()
            self.data["token"] = token
        else:
            self.initial["token"] = token


class LookupForm(forms.Form):
    code = forms.CharField(
        label="查询码",
        max_length=40,
        help_text="提交举报后页面显示的 16 位查询码，例如 K7QM-3XRT-9PWD-2HNA。",
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_id = "lookup"
        self.helper.layout = Layout("code", Submit("submit", "查询", css_class="btn-lg w-100"))


def local_today(now: datetime) -> date:
    return timezone.localdate(now)
