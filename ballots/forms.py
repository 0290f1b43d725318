from collections.abc import Sequence

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Div, Field, Layout, Submit
from django import forms
from django.utils.functional import cached_property

from ballots.errors import DAMAGED_FORM_MESSAGE

HONEYPOT_FIELD = "website"


class SubmittedCaseNumbers(forms.MultipleChoiceField):
    """The checkboxes' values as sent. Unknown or repeated numbers are not rejected
    here: ballots.services.cast_ballot checks them and names the bad one."""

    def validate(self, value) -> None:
        pass


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

    def __init__(self, *args, labels: Sequence[tuple[str, str]], **kwargs):
        """`labels`: ("031", "031 title") per votable case, built once per catalogue."""
        super().__init__(*args, **kwargs)
        # Read only to draw the checkboxes (a stored ballot is redirected, never drawn),
        # so a callable: Django normalises the choices when they are first iterated.
        self.fields["cases"].choices = lambda: labels

    @cached_property
    def helper(self) -> FormHelper:
        """The layout crispy-forms draws; built only when the page is drawn."""
        helper = FormHelper()
        helper.form_id = "ballot"
        helper.form_show_errors = False  # the page shows the refusal above the form
        helper.layout = Layout(
            Field("cases", template="ballots/case_checkboxes.html"),
            "token",
            Div(HONEYPOT_FIELD, css_class="hp-field", aria_hidden="true"),
            Div(Submit("submit", "提交投票", css_class="btn-lg w-100"), css_class="vote-bar"),
        )
        return helper

    def clean(self):
        if self.errors:  # e.g. a NUL byte in the token or the honeypot: not our page's doing
            raise forms.ValidationError(DAMAGED_FORM_MESSAGE)
        return super().clean()

    def renew_token(self, token: str) -> None:
        """The page is shown (again): it carries a fresh signed form token, and a
        refused ballot keeps the voter's ticks."""
        if self.is_bound:
            self.data = self.data.copy()
            self.data["token"] = token
        else:
            self.initial["token"] = token
