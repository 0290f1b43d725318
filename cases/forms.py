from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row, Submit
from django import forms

SEARCH_MAX_LENGTH = 50


class CaseFilterForm(forms.Form):
    """The campaign page's filter: province and a free-text search, both optional."""

    province = forms.ChoiceField(label="省份", required=False)
    q = forms.CharField(
        label="搜索",
        required=False,
        max_length=SEARCH_MAX_LENGTH,
        strip=True,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "案例名称或内容中的词"}),
        error_messages={"max_length": f"搜索词最多 {SEARCH_MAX_LENGTH} 个字。"},
    )

    def __init__(self, *args, provinces: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["province"].choices = [("", "全部省份")] + [(p, p) for p in provinces]
        self.fields["province"].error_messages["invalid_choice"] = "没有来自“%(value)s”的案例。"
        self.helper = FormHelper()
        self.helper.form_method = "get"
        self.helper.form_id = "case-filter"
        self.helper.attrs = {"role": "search", "aria-label": "筛选案例"}
        self.helper.disable_csrf = True
        self.helper.layout = Layout(
            Row(
                Column("province", css_class="col-12 col-sm-4"),
                Column("q", css_class="col-12 col-sm-5"),
                Column(
                    Submit("", "筛选", css_class="w-100 btn-filter"), css_class="col-12 col-sm-3"
                ),
                css_class="g-2 align-items-end",
            )
        )

    def filters(self) -> dict[str, str]:
        """The valid filters only: a bad value is reported by the form and ignored."""
        if not self.is_bound:
            return {}
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {key: data[key] for key in ("province", "q") if data.get(key)}
