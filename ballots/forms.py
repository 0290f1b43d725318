from collections.abc import Sequence
from functools import lru_cache

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Div, Field, Layout, Submit
from django import forms
from django.utils.html import format_html

from cases.models import Case

HONEYPOT_FIELD = "website"


class SubmittedCaseNumbers(forms.MultipleChoiceField):
    """The checkboxes' values as sent. Unknown or repeated numbers are not rejected
    here: ballots.services.cast_ballot checks them and names the bad one."""

    def validate(self, value) -> None:
        pass


@lru_cache(maxsize=8)
def _labelled(cases: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    return [(number, format_html("{} {}", number, title)) for number, title in cases]


def case_choices(votable_cases: Sequence[Case]) -> list[tuple[str, str]]:
    """Checkbox choices "031 title", built once per worker for the same cases."""
    return _labelled(tuple((case.display_number, case.title) for case in votable_cases))


class BallotForm(forms.Form):
    """The ballot's shape only; every rule lives in ballots.services.cast_ballot."""

    cases = SubmittedCaseNumbers(
        label="选择您支持的案例（可多选）", required=False, widget=forms.CheckboxSelectMultiple
    )
    token = forms.CharField(widget=forms.HiddenInput, required=False)
    website = forms.CharField(
        label="网址（请留空）",
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def __init__(self, *args, votable_cases: Sequence[Case], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cases"].choices = case_choices(votable_cases)
        self.helper = FormHelper()
        self.helper.form_id = "ballot"
        self.helper.form_show_errors = False  # the page shows the refusal above the form
        self.helper.layout = Layout(
            Field("cases", template="ballots/case_checkboxes.html"),
            "token",
            Div(HONEYPOT_FIELD, css_class="hp-field", aria_hidden="true"),
            Div(Submit("submit", "提交投票", css_class="btn-lg w-100"), css_class="vote-bar"),
        )
