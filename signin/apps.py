from django.apps import AppConfig


class SigninConfig(AppConfig):
    """No models: the lockout records are django-axes'. A data migration lets the 组委会
    group read them."""

    name = "signin"
    verbose_name = "职员登录"
