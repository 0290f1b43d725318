"""manage.py publish_batch: the committee publishes a batch from the server.

    manage.py publish_batch --batch 3 --reason "组委会 12 月 1 日会议决定发布第三批"

Until then the batch is a draft that only staff see. Running it again on a published
batch says so and changes nothing, so a deployment script may run it every time. The
decision is recorded like one taken in the admin, naming this command and the system
account that ran it (the admin's "发布批次" records the member instead).
"""

from django.core.management.base import BaseCommand, CommandError

from ballots.moderation import DecisionRefused
from ballots.publication import command_maker, publish_batch
from ballots.services import local_time_display
from cases.models import Batch


class Command(BaseCommand):
    help = "Publish a draft batch: it and its cases become public (a recorded decision)."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, required=True, help="batch number, e.g. 3")
        parser.add_argument("--reason", required=True, help="why (kept in the audit trail)")

    def handle(self, *args, batch, reason, **options):
        try:
            target = Batch.objects.get(number=batch)
        except Batch.DoesNotExist:
            raise CommandError(f"没有第{batch}批。请先用 load_cases 导入该批案例。") from None
        if target.is_published:
            self.stdout.write(
                f"第{target.number}批已于 {local_time_display(target.published_at)} 发布，"
                "没有改动。"
            )
            return
        try:
            publish_batch(target, user=None, reason=reason, via=command_maker("publish_batch"))
        except DecisionRefused as refusal:
            raise CommandError(refusal.message) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"已发布第{target.number}批：{target.name}（{target.cases.count()} 个案例）。"
            )
        )
