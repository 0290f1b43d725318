import pytest
from django.conf import settings

from cases.models import Batch, Case


@pytest.fixture(autouse=True)
def _test_settings(settings):
    """A fast hasher, and static files without collectstatic's manifest."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def batch2(db) -> Batch:
    return Batch.objects.create(
        number=2,
        name="第二批初选入围案例",
        notice="第一段公告。\n\n第二段公告：严禁刷票。",
        first_number=31,
        last_number=60,
    )


@pytest.fixture
def make_case(batch2):
    def make(number: int, title: str = "", province: str = "北京市", body: str = "", **extra) -> Case:
        return Case.objects.create(
            number=number,
            batch=extra.pop("batch", batch2),
            title=title or f"测试社区{number}",
            province=province,
            body=body or f"第一段，案例{number}。\n\n第二段，案例{number}。",
            **extra,
        )

    return make


@pytest.fixture
def batch2_loaded(db):
    """The real batch-2 catalogue, loaded with the editors' command."""
    from django.core.management import call_command

    call_command("load_cases", str(settings.BASE_DIR / "fixtures" / "batch2.json"), verbosity=0)
    return Batch.objects.get(number=2)
