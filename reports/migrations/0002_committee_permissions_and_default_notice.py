"""The 组委会 group reviews reports (contact details and screenshots included) and edits
the 防骗提示; editors get nothing of it. The first 防骗提示 is the campaign rules' own
words on brushing agencies, so the campaign page shows one from the start."""

from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.utils import timezone

COMMITTEE = "组委会"
CODENAMES = [
    "view_report",
    "review_reports",
    "view_screenshot",
    "view_reportdecision",
    "view_fraudnotice",
    "add_fraudnotice",
]

TITLE = "防骗提示"
BODY = """主办单位和组委会从不收取任何费用，也从未授权任何机构或个人代为拉票、组织投票或出售票数。

凡自称受主办单位或组委会委托、以“代投”“刷票”“保证入选”等名义联系候选案例及申报单位并索要费用的，均为冒用，请勿相信、勿转账。刷票一经发现，即取消相关案例的推选资格；对冒用主办单位及组委会名义的机构，组委会保留追究其法律责任的权利。

如遇上述情况或发现刷票线索，请通过本站“向组委会举报”页面提交，可附截图。"""


def report_permissions(apps):
    reports = apps.get_app_config("reports")
    reports.models_module = True
    create_permissions(reports, apps=apps, verbosity=0)
    reports.models_module = None
    found = apps.get_model("auth", "Permission").objects.filter(
        content_type__app_label="reports", codename__in=CODENAMES
    )
    missing = set(CODENAMES) - set(found.values_list("codename", flat=True))
    if missing:
        raise RuntimeError(f"permissions missing for {COMMITTEE}: {sorted(missing)}")
    return list(found)


def grant(apps, schema_editor):
    permissions = report_permissions(apps)
    for group in apps.get_model("auth", "Group").objects.filter(name=COMMITTEE):
        group.permissions.add(*permissions)


def revoke(apps, schema_editor):
    permissions = report_permissions(apps)
    for group in apps.get_model("auth", "Group").objects.filter(name=COMMITTEE):
        group.permissions.remove(*permissions)


def default_notice(apps, schema_editor):
    FraudNotice = apps.get_model("reports", "FraudNotice")
    if not FraudNotice.objects.exists():
        FraudNotice.objects.create(title=TITLE, body=BODY, edited_at=timezone.now())


class Migration(migrations.Migration):

    dependencies = [
        ("reports", "0001_initial"),
        ("ballots", "0001_squashed_0005_follower_wechat"),
    ]

    operations = [
        migrations.RunPython(grant, revoke),
        migrations.RunPython(default_notice, migrations.RunPython.noop),
    ]
