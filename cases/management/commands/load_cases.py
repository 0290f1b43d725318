"""`manage.py load_cases FILE`: the editors' way to publish or correct a batch of cases.

Re-running a file is safe: cases are matched by number, unchanged cases are not saved, cases
missing from the file are kept and a case's status is never touched. A file with any error changes
nothing; the checking rules live in `cases.loading`.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from cases.loading import Action, BatchOptions, LoadError, LoadPlan, apply_plan, build_plan
from cases.models import format_number
from cases.poster import missing_characters

PAST_TENSE = {Action.CREATE: "created", Action.UPDATE: "updated", Action.UNCHANGED: "unchanged"}
CONDITIONAL = {
    Action.CREATE: "would create",
    Action.UPDATE: "would update",
    Action.UNCHANGED: "unchanged",
}
BATCH_CONDITIONAL = {
    Action.CREATE: "would be created",
    Action.UPDATE: "would be updated",
    Action.UNCHANGED: "unchanged",
}


class Command(BaseCommand):
    help = (
        "Load a batch of cases from a .json file (with its own batch block) or a .csv file "
        "(number,title,province,body; name the batch with --batch). Idempotent; all or nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="A .json or .csv file (UTF-8 or GB18030).")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Check the file and report what would change, without writing anything.",
        )
        csv_batch = parser.add_argument_group(
            "batch of a CSV file",
            "A CSV file has no batch block. Load into an existing batch with --batch N; create "
            "the batch with --batch N --batch-name NAME --first A --last B (given for an existing "
            "batch, these update it).",
        )
        csv_batch.add_argument("--batch", type=int, metavar="N", help="Batch number.")
        csv_batch.add_argument("--batch-name", metavar="NAME", help="Batch name.")
        csv_batch.add_argument("--first", type=int, metavar="A", help="First case number.")
        csv_batch.add_argument("--last", type=int, metavar="B", help="Last case number.")

    def handle(self, *args: object, **options: object) -> None:
        path: Path = options["file"]
        dry_run = bool(options["dry_run"])
        batch_options = BatchOptions(
            number=options["batch"],
            name=options["batch_name"],
            first_number=options["first"],
            last_number=options["last"],
        )
        raw = read_file(path)
        try:
            # Checking and writing share one transaction: the catalogue cannot change in between,
            # and any failure leaves it exactly as it was.
            with transaction.atomic():
                plan = build_plan(raw, path.name, batch_options)
                if plan.errors:
                    raise CommandError(plan.error_report())
                if not dry_run:
                    apply_plan(plan)
        except LoadError as error:
            raise CommandError(str(error)) from None
        self.report(plan, dry_run=dry_run, verbosity=int(options["verbosity"]))

    def report(self, plan: LoadPlan, *, dry_run: bool, verbosity: int) -> None:
        if verbosity < 1:
            return
        words = CONDITIONAL if dry_run else PAST_TENSE
        if dry_run:
            self.stdout.write("Dry run: nothing was written.")
        batch = plan.batch
        batch_words = BATCH_CONDITIONAL if dry_run else PAST_TENSE
        batch_line = f"{plan.filename}: {batch.label} {batch_words[batch.action]}"
        if batch.changed_fields:
            batch_line += f" ({', '.join(batch.changed_fields)})"
        self.stdout.write(batch_line)
        if verbosity >= 2:
            for change in plan.cases:
                line = f"  {words[change.action]} {format_number(change.row.number)} {change.row.title}"
                if change.changed_fields:
                    line += f" ({', '.join(change.changed_fields)})"
                self.stdout.write(line)
        created, updated, unchanged = (plan.count(action) for action in Action)
        if dry_run:
            summary = f"would create {created}, update {updated}, unchanged {unchanged}"
        else:
            summary = f"created {created}, updated {updated}, unchanged {unchanged}"
        self.stdout.write(self.style.SUCCESS(f"Cases: {summary}"))
        if plan.kept:
            self.stdout.write(
                f"Kept {plan.kept} case(s) of batch {batch.number} that the file does not list."
            )
        self.report_poster_font(plan)

    def report_poster_font(self, plan: LoadPlan) -> None:
        """A character the posters' font lacks is left out of the poster: say so now."""
        for change in plan.cases:
            row = change.row
            if missing := missing_characters(row.title + row.province):
                characters = "、".join(f"{ch}（U+{ord(ch):04X}）" for ch in missing)
                self.stdout.write(
                    self.style.WARNING(
                        f"案例 {format_number(row.number)} 的名称或省份含海报字体没有的字 "
                        f"{characters}：拉票海报上会省略它们；"
                        "运行 scripts/subset_poster_font.py 可把它们加入字体。"
                    )
                )


def read_file(path: Path) -> bytes:
    """The editors' mistakes here are ordinary (a typo, a folder): say so without a traceback."""
    if not path.exists():
        raise CommandError(f"找不到文件 {path}。")
    if path.is_dir():
        raise CommandError(f"{path} 是一个目录，请给出 .json 或 .csv 文件。")
    try:
        return path.read_bytes()
    except OSError as error:
        raise CommandError(f"无法读取 {path}：{error.strerror}。") from None
