from axes import apps as axes_apps
from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django_otp.plugins.otp_totp import apps as totp_apps


class SigninConfig(AppConfig):
    """No models: the lockout records are django-axes', the devices django-otp's. A data
    migration lets the 组委会 group read the sign-in records."""

    default = True
    name = "signin"
    verbose_name = "职员登录"

    def ready(self) -> None:
        from signin import checks  # noqa: F401 (registers the system checks)


class StaffAdminConfig(admin_apps.AdminConfig):
    """Django's admin with our site as `admin.site`, so that every `@admin.register` and
    `admin_view` in the apps is behind the same sign-in (Django's documented way to
    replace the default site). Not this app's default config (it would inherit admin's
    `default = True`), and its base is reached through its module, since an AppConfig
    class imported here by name would be counted as one of this module's configs."""

    default = False
    default_site = "signin.admin.StaffAdminSite"


class SignInRecordsConfig(axes_apps.AppConfig):
    """django-axes under a Chinese heading in the admin (its models' and fields' names
    are translated in signin/locale)."""

    default = False
    verbose_name = "登录记录"


class TOTPDevicesConfig(totp_apps.DefaultConfig):
    """django-otp's TOTP devices under a Chinese heading (superusers only)."""

    default = False
    verbose_name = "两步验证"
