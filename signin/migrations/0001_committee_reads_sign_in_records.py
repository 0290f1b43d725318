"""The 组委会 group may read the sign-in records in the admin (django-axes: recent failed
attempts and lockouts, every failure, every successful sign-in), given the way
ballots' first migration gives the groups their permissions. Editors may not. Nobody but
a superuser may see or change a TOTP device (it holds the account's second secret), and
unlocking an account (deleting its attempts) is left to superusers."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

COMMITTEE = "组委会"
CODENAMES = ["view_accessattempt", "view_accessfailurelog", "view_accesslog"]


def sign_in_records(apps):
    # Permissions are normally created after migrations; make sure axes' exist now.
    axes = apps.get_app_config("axes")
    axes.models_module = True
    create_permissions(axes, apps=apps, verbosity=0)
    axes.models_module = None

    found = apps.get_model("auth", "Permission").objects.filter(
        content_type__app_label="axes", codename__in=CODENAMES
    )
    missing = set(CODENAMES) - set(found.values_list("codename", flat=True))
    if missing:
        raise RuntimeError(f"permissions missing for {COMMITTEE}: {sorted(missing)}")
    return list(found)


def grant(apps, schema_editor):
    permissions = sign_in_records(apps)
    for group in apps.get_model("auth", "Group").objects.filter(name=COMMITTEE):
        group.permissions.add(*permissions)


def revoke(apps, schema_editor):
    permissions = sign_in_records(apps)
    for group in apps.get_model("auth", "Group").objects.filter(name=COMMITTEE):
        group.permissions.remove(*permissions)


class Migration(migrations.Migration):

    dependencies = [
        ("ballots", "0001_squashed_0005_follower_wechat"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [
        migrations.RunPython(grant, revoke),
    ]
