"""Create the two staff groups with exact permissions.

组委会 (committee) reviews evidence, voids and restores ballots, disqualifies and
reinstates cases, scores and selects cases, publishes results and the final list.
编辑 (editors) manage batches and cases. Nobody may delete anything: ballots and
decisions are evidence, and cases are withdrawn by decision, not removed.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

COMMITTEE = "组委会"
EDITORS = "编辑"

GROUP_PERMISSIONS = {
    COMMITTEE: {
        "cases": ["view_batch", "change_batch", "view_case"],
        "ballots": [
            "view_follower",
            "view_ballot",
            "view_choice",
            "view_decision",
            "view_announcement",
            "view_expertreview",
            "add_expertreview",
            "change_expertreview",
            "view_evidence",
            "view_votes",
            "void_ballots",
            "decide_cases",
            "select_cases",
            "publish",
        ],
    },
    EDITORS: {
        "cases": ["view_batch", "add_batch", "change_batch", "view_case", "add_case", "change_case"],
        "ballots": ["view_announcement"],
    },
}


def create_groups(apps, schema_editor):
    # Permissions are normally created after migrations; make sure they exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, by_app in GROUP_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        wanted = []
        for app_label, codenames in by_app.items():
            found = Permission.objects.filter(
                content_type__app_label=app_label, codename__in=codenames
            )
            missing = set(codenames) - set(found.values_list("codename", flat=True))
            if missing:
                raise RuntimeError(f"permissions missing for {name}: {sorted(missing)}")
            wanted.extend(found)
        group.permissions.set(wanted)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=[COMMITTEE, EDITORS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("ballots", "0002_moderation"),
        ("cases", "0002_batch_selected_published_at"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
