"""manage.py set_voting: the voting window outside the admin, in Beijing time."""

from datetime import datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from cases.models import Batch
from tests.conftest import SHANGHAI, VOTING_NOW

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("set_voting", *args, stdout=out)
    return out.getvalue()


def test_it_sets_a_window_in_beijing_time(batch2):
    output = run("--batch", "2", "--opens", "2026-12-01 08:00", "--closes", "2026-12-31 20:00")

    batch2.refresh_from_db()
    assert batch2.voting_opens_at == datetime(2026, 12, 1, 8, 0, tzinfo=SHANGHAI)
    assert batch2.voting_closes_at == datetime(2026, 12, 31, 20, 0, tzinfo=SHANGHAI)
    assert "2026年12月1日 08:00 至 2026年12月31日 20:00" in output


def test_it_opens_now_for_a_number_of_days(batch2, clock):
    run("--batch", "2", "--open-now", "--days", "30")

    batch2.refresh_from_db()
    assert batch2.voting_opens_at == VOTING_NOW
    assert batch2.voting_closes_at == VOTING_NOW + timedelta(days=30)
    assert batch2.is_open(VOTING_NOW)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch", "9", "--open-now", "--days", "3"], "没有第9批"),
        (["--batch", "2", "--open-now"], "--open-now 需要 --days"),
        (["--batch", "2", "--open-now", "--days", "0"], "--days 须在 1 到 366 之间"),
        (["--batch", "2", "--open-now", "--days", "x"], "不是整数"),
        (["--batch", "2", "--opens", "2026-12-01 08:00"], "请给出 --opens 和 --closes"),
        (["--batch", "2", "--opens", "明天", "--closes", "2026-12-31"], "不是有效的时间"),
        (
            ["--batch", "2", "--opens", "2026-12-31", "--closes", "2026-12-01"],
            "--closes 必须晚于 --opens",
        ),
        (["--batch", "2", "--open-now", "--days", "3", "--opens", "2026-12-01"], "不能与"),
    ],
)
def test_it_refuses_bad_arguments_and_changes_nothing(batch2, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)

    batch2.refresh_from_db()
    assert batch2.voting_opens_at is None and batch2.voting_closes_at is None


def test_the_database_refuses_a_window_that_closes_before_it_opens(batch2):
    from django.db import IntegrityError

    Batch.objects.filter(pk=batch2.pk)
    with pytest.raises(IntegrityError):
        Batch.objects.filter(pk=batch2.pk).update(
            voting_opens_at=datetime(2026, 12, 2, tzinfo=SHANGHAI),
            voting_closes_at=datetime(2026, 12, 1, tzinfo=SHANGHAI),
        )


def test_batch_validation_names_each_bad_setting(batch2, make_case):
    from django.core.exceptions import ValidationError

    make_case(31)
    make_case(32)
    batch2.min_choices, batch2.max_choices = 2, 3
    batch2.voting_opens_at = datetime(2026, 12, 1, tzinfo=SHANGHAI)

    with pytest.raises(ValidationError) as error:
        batch2.full_clean()

    assert "本批只有 2 个可投票的案例" in str(error.value.message_dict["max_choices"])
    assert "同时填写或同时留空" in str(error.value.message_dict["voting_closes_at"])
