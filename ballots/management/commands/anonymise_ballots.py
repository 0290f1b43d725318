"""manage.py anonymise_ballots --batch N [--dry-run]: strip personal data after retention.

See ballots/retention.py for what is removed and what is kept. Refuses before the
batch's retention period has ended; running it again changes nothing.
"""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ballots.retention import NotYet, anonymise_batch
from cases.models import Batch


class Command(BaseCommand):
    help = "Anonymise a closed batch's ballots once the retention period has passed."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, required=True, help="batch number")
        parser.add_argument("--dry-run", action="store_true", help="report only, change nothing")

    def handle(self, *args, batch, dry_run, **options):
        try:
            target = Batch.objects.get(number=batch)
        except Batch.DoesNotExist:
            raise CommandError(f"没有第{batch}批。") from None
        try:
            done = anonymise_batch(target, timezone.now(), dry_run=dry_run)
        except NotYet as refusal:
            raise CommandError(refusal.message) from None
        verb = "将匿名化" if dry_run else "已匿名化"
        self.stdout.write(
            f"第{target.number}批：{verb} {done.ballots} 张选票的 IP 和设备标识，"
            f"{done.followers} 个关注者的标识。网段、时间和所选案例保留。"
        )
