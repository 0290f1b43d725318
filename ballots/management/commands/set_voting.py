"""manage.py set_voting: set a batch's voting window outside the admin.

    manage.py set_voting --batch 2 --opens "2026-12-01 08:00" --closes "2026-12-31 20:00"
    manage.py set_voting --batch 2 --open-now --days 30

Times are read in Asia/Shanghai (the site's TIME_ZONE).
"""

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ballots.services import local_time_display
from cases.models import Batch

INPUT_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d")
MAX_DAYS = 366


def parse_local_datetime(value: str, option: str) -> datetime:
    for pattern in INPUT_FORMATS:
        try:
            naive = datetime.strptime(value.strip(), pattern)  # noqa: DTZ007 (made aware below)
        except ValueError:
            continue
        return timezone.make_aware(naive)
    raise CommandError(
        f"{option} {value!r} 不是有效的时间，请写成 “2026-12-01 08:00”（北京时间）。"
    )


def positive_days(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        raise CommandError(f"--days {value!r} 不是整数。") from None
    if not 1 <= days <= MAX_DAYS:
        raise CommandError(f"--days 须在 1 到 {MAX_DAYS} 之间，收到 {days}。")
    return days


class Command(BaseCommand):
    help = "Set a batch's voting window (times in Asia/Shanghai)."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, required=True, help="batch number, e.g. 2")
        parser.add_argument("--opens", help='opening time, e.g. "2026-12-01 08:00"')
        parser.add_argument("--closes", help='closing time, e.g. "2026-12-31 20:00"')
        parser.add_argument("--open-now", action="store_true", help="open from now")
        parser.add_argument("--days", help="with --open-now: how many days voting stays open")

    def handle(self, *args, batch, opens, closes, open_now, days, **options):
        opens_at, closes_at = self.window(opens, closes, open_now, days)
        try:
            target = Batch.objects.get(number=batch)
        except Batch.DoesNotExist:
            raise CommandError(f"没有第{batch}批。请先用 load_cases 导入该批案例。") from None
        target.voting_opens_at, target.voting_closes_at = opens_at, closes_at
        try:
            target.full_clean()
        except ValidationError as error:
            raise CommandError("；".join(error.messages)) from None
        target.save(update_fields=["voting_opens_at", "voting_closes_at"])
        self.stdout.write(
            f"第{target.number}批投票时间：{local_time_display(opens_at)} 至 "
            f"{local_time_display(closes_at)}（北京时间）。"
        )

    def window(self, opens, closes, open_now, days) -> tuple[datetime, datetime]:
        if open_now:
            if opens or closes:
                raise CommandError("--open-now 不能与 --opens/--closes 同时使用。")
            if days is None:
                raise CommandError("--open-now 需要 --days，例如 --open-now --days 30。")
            now = timezone.now().replace(microsecond=0)
            return now, now + timedelta(days=positive_days(days))
        if days is not None:
            raise CommandError("--days 只能与 --open-now 一起使用。")
        if not opens or not closes:
            raise CommandError("请给出 --opens 和 --closes，或者 --open-now --days N。")
        opens_at = parse_local_datetime(opens, "--opens")
        closes_at = parse_local_datetime(closes, "--closes")
        if opens_at >= closes_at:
            raise CommandError("--closes 必须晚于 --opens。")
        return opens_at, closes_at
