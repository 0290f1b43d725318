"""Forms of the committee's decisions in the admin: every decision needs a reason."""

from django import forms

from ballots.moderation import REASON_MIN_LENGTH


class ReasonField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("label", "理由（内部记录，必填）")
        kwargs.setdefault("min_length", REASON_MIN_LENGTH)
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 3}))
        super().__init__(**kwargs)


class VoidForm(forms.Form):
    reason = ReasonField()
    public_reason = forms.CharField(
        label="公开说明（回执页显示）",
        max_length=200,
        required=False,
        help_text="留空则显示“经组委会核查认定为刷票”。",
    )


class ReasonForm(forms.Form):
    reason = ReasonField()


class AnnouncedDecisionForm(forms.Form):
    reason = ReasonField()
    title = forms.CharField(label="公告标题", max_length=100)
    body = forms.CharField(label="公告正文", widget=forms.Textarea(attrs={"rows": 8}))


class SliceForm(forms.Form):
    """All ballots of a network slice within a time range."""

    subnet = forms.CharField(
        label="IP 或网段",
        max_length=50,
        help_text="例如 203.0.113.7 或 203.0.113.0/24（IPv6 写 /64 网段）。",
    )
    start = forms.DateTimeField(label="开始（北京时间）", help_text="例如 2026-12-04 01:00")
    end = forms.DateTimeField(label="结束（北京时间）")
    reason = ReasonField()
    public_reason = forms.CharField(label="公开说明（回执页显示）", max_length=200, required=False)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] >= data["end"]:
            raise forms.ValidationError("结束时间必须晚于开始时间。")
        return data


class VotingWindowForm(forms.Form):
    """开放投票: the window (Beijing time) and why."""

    opens_at = forms.DateTimeField(label="投票开始（北京时间）", help_text="例如 2026-12-01 08:00")
    closes_at = forms.DateTimeField(label="投票截止（北京时间）", help_text="例如 2026-12-31 20:00")
    reason = ReasonField()

    def clean(self):
        data = super().clean()
        if data.get("opens_at") and data.get("closes_at") and data["opens_at"] >= data["closes_at"]:
            raise forms.ValidationError("截止时间必须晚于开始时间。")
        return data
