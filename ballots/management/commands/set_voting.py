"""manage.py set_voting: the committee opens a published batch's vote from the server.

    manage.py set_voting --batch 2 --opens "2026-12-01 08:00" --closes "2026-12-31 20:00"
    manage.py set_voting --batch 2 --open-now --days 30 --reason "组委会决定今日开放投票"

Times are read in Asia/Shanghai (the site's TIME_ZONE). It is the admin's "开放投票"
decision, recorded with this command and the system account as its maker; a draft
must be published first (publish_batch), and an archived batch takes no vote.
"""

from datetime import datetime, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ballots.moderation import DecisionRefused
from ballots.publication import close_voting, command_maker, open_voting
from ballots.services import local_time_display
from cases.models import Batch

INPUT_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d")
MAX_DAYS = 366
DEFAULT_REASON = "在服务器上用 set_voting 设置投票时间"


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
        parser.add_argument(
            "--close-now", action="store_true", help="end the vote now (or cancel a later one)"
        )
        parser.add_argument(
            "--reason",
            default=DEFAULT_REASON,
            help=f"why (kept in the audit trail; default “{DEFAULT_REASON}”)",
        )

    def handle(self, *args, batch, opens, closes, open_now, days, close_now, reason, **options):
        if close_now and (opens or closes or open_now or days is not None):
            raise CommandError("--close-now 不能与 --opens/--closes/--open-now/--days 同时使用。")
        opens_at, closes_at = (
            (None, None) if close_now else self.window(opens, closes, open_now, days)
        )
        try:
            target = Batch.objects.get(number=batch)
        except Batch.DoesNotExist:
            raise CommandError(f"没有第{batch}批。请先用 load_cases 导入该批案例。") from None
        if close_now:
            try:
                close_voting(target, user=None, reason=reason, via=command_maker("set_voting"))
            except DecisionRefused as refusal:
                raise CommandError(refusal.message) from None
            self.stdout.write(f"第{target.number}批投票已结束。")
            return
        try:
            open_voting(
                target,
                opens_at,
                closes_at,
                user=None,
                reason=reason,
                via=command_maker("set_voting"),
            )
        except DecisionRefused as refusal:
            raise CommandError(refusal.message) from None
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
            raise CommandError(
                "请给出 --opens 和 --closes，或者 --open-now --days N（结束投票：--close-now）。"
            )
        opens_at = parse_local_datetime(opens, "--opens")
        closes_at = parse_local_datetime(closes, "--closes")
        if opens_at >= closes_at:
            raise CommandError("--closes 必须晚于 --opens。")
        return opens_at, closes_at
