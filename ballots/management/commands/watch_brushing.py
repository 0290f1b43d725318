"""manage.py watch_brushing: the brushing detector, run every few minutes, with alerts.

    manage.py watch_brushing              # every 300 s until SIGTERM or Ctrl-C
    manage.py watch_brushing --every 120
    manage.py watch_brushing --once       # one round (cron, a systemd timer, tests)

Each round, under a lock every node shares (casevote.sharedcache.lock), stores a
detector run (ballots.snapshots.store_run) for each batch whose vote is open or closed
less than WATCH_AFTER_CLOSE ago, records an alert for each case whose verdict rose and
delivers what is pending (ballots.alerts). A node that does not get the lock skips the
round and says so in one line; one instance per node is fine. SIGTERM or Ctrl-C stops
it between rounds. See docs/detection-alerts.md.
"""

import signal
import threading
from datetime import datetime, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ballots import alerts
from ballots.models import Ballot
from ballots.snapshots import store_run
from cases.models import Batch
from casevote.sharedcache import SharedCacheUnavailable, lock

LOCK_NAME = "watch-brushing"
# How long a node that dies mid-round keeps the others out; longer than any round
# (a run over a million ballots takes about a minute, bench/README.md).
LOCK_HOLD_SECONDS = 30 * 60
WATCH_AFTER_CLOSE = timedelta(days=1)


def batches_to_watch(now: datetime) -> list[Batch]:
    """Published, unarchived batches whose vote has opened and closed less than
    WATCH_AFTER_CLOSE ago (late ballots' evidence still matters the day after)."""
    return list(
        Batch.objects.filter(
            published_at__isnull=False,
            archived_at__isnull=True,
            voting_opens_at__lte=now,
            voting_closes_at__gt=now - WATCH_AFTER_CLOSE,
        ).order_by("number")
    )


def has_ballots(batch: Batch) -> bool:
    return Ballot.objects.filter(batch=batch, status=Ballot.Status.VALID).exists()


class Command(BaseCommand):
    help = "Run the brushing detector on every batch being voted on, repeatedly, with alerts."

    def add_arguments(self, parser):
        parser.add_argument(
            "--every", type=int, default=300, help="seconds between rounds (default 300)"
        )
        parser.add_argument("--once", action="store_true", help="run one round and exit")

    def handle(self, *args, every: int, once: bool, **options):
        if every < 1:
            raise CommandError(f"--every 必须至少 1 秒，而不是 {every}。")
        stop = threading.Event()
        if not once:
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: stop.set())
        while True:
            self.round()
            if once or stop.wait(every):
                break
        if not once:
            self.stdout.write("刷票监测已停止。")

    def round(self) -> None:
        try:
            with lock(LOCK_NAME, wait=0, hold=LOCK_HOLD_SECONDS) as got:
                if not got:
                    self.stdout.write("另一节点正在监测，本轮跳过。")
                    return
                self.watch(timezone.now())
        except SharedCacheUnavailable as error:
            self.stdout.write(f"共享缓存不可用，无法取得锁，本轮跳过：{error}")

    def watch(self, now: datetime) -> None:
        for batch in batches_to_watch(now):
            if not has_ballots(batch):
                self.stdout.write(f"第{batch.number}批还没有有效选票，跳过。")
                continue
            run = store_run(batch)
            raised = alerts.raise_alerts(run)
            self.stdout.write(
                f"已保存第{batch.number}批的检测记录 #{run.pk}：{run.ballots} 张有效选票，"
                f"用时 {run.seconds:.1f} 秒，新提醒 {len(raised)} 条。"
            )
        delivered = alerts.deliver_pending()
        if delivered:
            self.stdout.write(f"已发送提醒 {delivered} 次。")
