"""manage.py anonymise_reports [--campaign-ended] [--dry-run]: remove reporters' personal data.

See reports/retention.py for what is removed and what is kept. Without
--campaign-ended only reports closed more than CASEVOTE_REPORT_RETENTION_DAYS ago;
with it every report, refused until every batch is past its retention. Running it
again changes nothing.
"""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ballots.retention import NotYet
from reports.retention import anonymise_reports


class Command(BaseCommand):
    help = "Remove reporters' contact details, addresses and screenshots after retention."

    def add_arguments(self, parser):
        parser.add_argument(
            "--campaign-ended",
            action="store_true",
            help="every report, once every batch is past its retention period",
        )
        parser.add_argument("--dry-run", action="store_true", help="report only, change nothing")

    def handle(self, *args, campaign_ended, dry_run, **options):
        try:
            done = anonymise_reports(timezone.now(), campaign_ended=campaign_ended, dry_run=dry_run)
        except NotYet as refusal:
            raise CommandError(refusal.message) from None
        verb = "将删除" if dry_run else "已删除"
        scope = "全部举报" if campaign_ended else "办结超过保留期的举报"
        self.stdout.write(
            f"{scope}：{verb} {done.reports} 份举报的联系方式和 IP，{done.screenshots} 张截图。"
            "举报内容、涉及案例、时间和处理记录保留。"
        )
