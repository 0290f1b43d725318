"""manage.py detect_brushing: run the brushing detector over a batch's ballots.

    manage.py detect_brushing --batch 2
    manage.py detect_brushing --batch 2 --json > evidence.json
    manage.py detect_brushing --batch 2 --store       # for the monitoring page; schedule it

The table lists every case, most suspicious first, with its score, verdict and top
reasons; --json prints the full reports (`ballots.detection.report_to_dict`). Only
valid ballots are read unless --include-void. It changes nothing: the committee
decides. The elapsed time goes to stderr so --json output stays clean.

--store keeps the run (`DetectionRun`) for the admin's monitoring page, which on a
large poll shows the newest stored run instead of reading every ballot itself.
It prints one line; run it every few minutes from the scheduler during a campaign.
"""

import json
import time
import unicodedata

from django.core.management.base import BaseCommand, CommandError

from ballots.detection import (
    CLEAN,
    CO_SELECTED,
    DETECTOR_VERSION,
    FLAGGED,
    VERDICT_LABELS,
    WATCH,
    detect,
    report_to_dict,
)
from ballots.evidence import case_numbers, load_columns
from ballots.snapshots import store_run
from cases.models import Batch, format_number

TABLE_REASONS = 3
REASON_LENGTH = 120


class Command(BaseCommand):
    help = "Report suspected vote brushing per case of a batch (reasons and figures)."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, required=True, help="batch number, e.g. 2")
        parser.add_argument("--json", action="store_true", help="print the full reports as JSON")
        parser.add_argument("--include-void", action="store_true", help="read voided ballots too")
        parser.add_argument(
            "--store", action="store_true", help="store the run for the monitoring page"
        )

    def handle(self, *args, batch, json, include_void, store, **options):
        started = time.perf_counter()
        try:
            target = Batch.objects.get(number=batch)
        except Batch.DoesNotExist:
            raise CommandError(f"没有第{batch}批。") from None
        if store:
            if json or include_void:
                raise CommandError(
                    "--store 只保存有效选票的检测结果，不能与 --json、--include-void 同用。"
                )
            run = store_run(target)
            self.stdout.write(
                f"已保存第{target.number}批的检测记录 #{run.pk}：{run.ballots} 张有效选票，"
                f"用时 {run.seconds:.1f} 秒。"
            )
            return
        records = load_columns(target, include_void=include_void)
        if not records:
            which = "选票" if include_void else "有效选票"
            raise CommandError(f"第{batch}批还没有{which}，无从检测。")
        reports = detect(records, case_numbers(target))
        if json:
            self.write_json(reports)
        else:
            self.write_table(target, reports, len(records), include_void)
        self.stderr.write(f"用时 {time.perf_counter() - started:.2f} 秒（{len(records)} 张选票）")

    def write_json(self, reports) -> None:
        self.stdout.write(
            json.dumps([report_to_dict(r) for r in reports], ensure_ascii=False, indent=1)
        )

    def write_table(self, target: Batch, reports, ballots: int, include_void: bool) -> None:
        kind = "张选票（含作废）" if include_void else "张有效选票"
        self.stdout.write(
            f"第{target.number}批刷票监测（监测程序 {DETECTOR_VERSION}）："
            f"{ballots} {kind}，{len(reports)} 个案例。结论仅供组委会参考。"
        )
        columns = (("案例", 4), ("得分", 5), ("结论", 20), ("得票", 7), ("排名", 4))
        header = " ".join(pad(title, width, right=i in (1, 3, 4)) for i, (title, width) in
                          enumerate(columns))  # fmt: skip
        self.stdout.write(f"{header}  理由")
        indent = " " * (len(header) + 2)
        for report in reports:
            cells = (
                format_number(report.case),
                f"{report.score:.1f}",
                f"{report.verdict}（{VERDICT_LABELS[report.verdict]}）",
                str(report.total),
                str(report.rank),
            )
            row = " ".join(
                pad(cell, width, right=i in (1, 3, 4))
                for i, (cell, (_, width)) in enumerate(zip(cells, columns, strict=True))
            )
            if report.verdict == CLEAN:
                self.stdout.write(row)
                continue
            reasons = report.reasons[:TABLE_REASONS]
            self.stdout.write(f"{row}  {shorten(reasons[0])}")
            for reason in reasons[1:]:
                self.stdout.write(f"{indent}{shorten(reason)}")
        summary = []
        for verdict in (FLAGGED, CO_SELECTED, WATCH):
            cases = [format_number(r.case) for r in reports if r.verdict == verdict]
            summary.append(f"{VERDICT_LABELS[verdict]} {len(cases)}：{'、'.join(cases) or '无'}")
        self.stdout.write("；".join(summary) + "。")


def width_of(text: str) -> int:
    """Columns a terminal gives the text: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, width: int, *, right: bool = False) -> str:
    filler = " " * max(width - width_of(text), 0)
    return filler + text if right else text + filler


def shorten(text: str) -> str:
    return text if len(text) <= REASON_LENGTH else text[: REASON_LENGTH - 1] + "…"
