from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator

from signin.devices import devices_of, two_factor_required, verified_device


class StaffAuthenticationForm(AdminAuthenticationForm):
    """The admin's sign-in. With `CASEVOTE_STAFF_2FA` on it also asks for the code shown
    by the member's authenticator app. A wrong code is answered like a wrong password
    (nothing tells which was wrong) and counts as a failed sign-in, so django-axes locks
    out a code guesser as it does a password guesser."""

    otp_token = forms.CharField(
        label="动态口令",
        required=False,
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text="手机验证器（如腾讯身份验证器、Google Authenticator）上显示的 6 位数字。",
    )

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login_with_code": (
            "请输入正确的%(username)s、密码和动态口令。注意%(username)s和密码区分大小写，"
            "动态口令每 30 秒更换一次。"
        ),
        "token_required": (
            "请输入手机验证器上的 6 位动态口令。还没有登记验证器的账号无法登录管理后台，"
            "请联系网站管理员为您登记。"
        ),
        "no_device": (
            "您的账号还没有登记手机验证器（两步验证），无法登录管理后台。"
            "请联系网站管理员为您登记，然后用手机扫描管理员给您的二维码。"
        ),
    }

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        # Django's sign-in form only sets the username's `max_length` for the browser;
        # enforced here, an over-long name is a form error before any authentication, so
        # django-axes never tries to record it in its 255-character column (a 500 on
        # PostgreSQL, found by the fuzz tier).
        username = self.fields["username"]
        username.validators.append(MaxLengthValidator(username.max_length))
        if not two_factor_required():
            del self.fields["otp_token"]

    def clean(self):
        if "otp_token" not in self.fields:
            return super().clean()
        token = self.cleaned_data.get("otp_token", "").replace(" ", "")
        if not token:
            # Asked before the password is checked: the answer says nothing about it.
            raise ValidationError(self.error_messages["token_required"], code="token_required")
        try:
            cleaned_data = super().clean()
        except ValidationError as error:
            if error.code == "invalid_login":
                raise self.invalid_login() from None
            raise
        user = self.get_user()
        if user is None:  # no username or password: their fields say so
            return cleaned_data
        if not devices_of(user):
            raise ValidationError(self.error_messages["no_device"], code="no_device")
        device = verified_device(user, token)
        if device is None:
            user_login_failed.send(
                sender=__name__,
                credentials={"username": self.cleaned_data.get("username")},
                request=self.request,
            )
            raise self.invalid_login()
        # django-otp keeps the device in the session when the view logs the user in.
        user.otp_device = device
        return cleaned_data

    def invalid_login(self) -> ValidationError:
        return ValidationError(
            self.error_messages["invalid_login_with_code"],
            code="invalid_login",
            params={"username": self.username_field.verbose_name},
        )
