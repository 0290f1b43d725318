"""`manage.py extract_cases PAGE --batch N --first A -o FILE`: a scraped page to a batch file.

The output is the JSON that `load_cases` reads, and is meant to be committed: re-running the
command on the same page gives the same bytes. The rules live in `tools.extraction`; this command
reads the page, writes the file in one step (a failed run never leaves half a file behind) and
says what it threw away, so that a reviewer can check nothing else went.
"""

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cases.models import MAX_CASE_NUMBER, format_number
from tools.extraction import (
    Extraction,
    ExtractionError,
    SourceLine,
    extract_batch,
    quote,
    render_json,
)

# The organisers publish the candidates thirty at a time.
CASES_PER_BATCH = 30
STDOUT = "-"


class Command(BaseCommand):
    help = (
        "Extract a batch of cases from a scraped announcement page (UTF-8 text) into the JSON "
        "file that load_cases reads: each paragraph once, injected ads removed, page chrome "
        "dropped, every other character as published."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", type=Path, help="The scraped page, as UTF-8 text.")
        parser.add_argument("--batch", type=int, required=True, metavar="N", help="Batch number.")
        parser.add_argument(
            "--first", type=int, required=True, metavar="A", help="Number of the page's first case."
        )
        parser.add_argument(
            "--count",
            type=int,
            default=CASES_PER_BATCH,
            metavar="C",
            help=f"How many cases the page must hold (default {CASES_PER_BATCH}).",
        )
        parser.add_argument(
            "--name", help="Batch name, if the notice does not announce it (or says it wrongly)."
        )
        parser.add_argument(
            "--strip",
            action="append",
            default=[],
            metavar="TEXT",
            help="Another injected string to remove wherever it occurs (repeatable).",
        )
        parser.add_argument(
            "-o",
            "--output",
            default=STDOUT,
            help="Where to write the JSON; '-' (the default) is standard output.",
        )

    def handle(self, *args: object, **options: object) -> None:
        source: Path = options["source"]
        output: str = options["output"]
        target = None if output == STDOUT else Path(output)
        if target is not None:
            check_target(target)
        try:
            extraction = extract_batch(
                read_page(source),
                batch_number=options["batch"],
                first=options["first"],
                count=options["count"],
                max_number=MAX_CASE_NUMBER,
                name=options["name"],
                strip=options["strip"],
            )
        except ExtractionError as error:
            raise CommandError(f"{source.name}：{error}") from None
        payload = render_json(extraction)
        if target is None:
            self.stdout.write(payload, ending="")
            # The JSON owns standard output; the report must not end up inside it.
            self.report(extraction, source, write=self.stderr.write, verbosity=options["verbosity"])
            return
        write_atomically(target, payload)
        self.report(extraction, source, write=self.stdout.write, verbosity=options["verbosity"])
        self.stdout.write(self.style.SUCCESS(f"Wrote {target}"))

    def report(
        self, extraction: Extraction, source: Path, *, write: Callable[[str], None], verbosity: int
    ) -> None:
        """Everything that was removed, by line, so the reviewer can check the page against it."""
        if verbosity < 1:
            return
        write(f"{source}:")
        write(f"  dropped page chrome: {describe_lines(extraction.chrome)}")
        write(f"  dropped footer: {describe_lines(extraction.footer)}")
        ads = extraction.ads_removed
        lines = ", ".join(str(number) for number in sorted(set(ads))) or "-"
        write(f"  removed {len(ads)} injected ad string(s) (lines {lines})")
        write(f"  notice: {len(extraction.notice)} paragraph(s)")
        write(
            f"Batch {extraction.batch_number} {extraction.name}: {len(extraction.cases)} cases, "
            f"{format_number(extraction.first_number)}-{format_number(extraction.last_number)}"
        )
        if verbosity >= 2:
            for case in extraction.cases:
                province = case.province or "(no province)"
                write(f"  {format_number(case.number)} {case.title} [{province}]")


def describe_lines(lines: tuple[SourceLine, ...]) -> str:
    if not lines:
        return "none"
    return "; ".join(f"line {line.number} 「{quote(line.text)}」" for line in lines)


def read_page(path: Path) -> str:
    """A wrong path or a page saved in another encoding is an ordinary mistake: say which."""
    if not path.exists():
        raise CommandError(f"找不到文件 {path}。")
    if path.is_dir():
        raise CommandError(f"{path} 是一个目录，请给出抓取下来的页面文本文件。")
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise CommandError(f"无法读取 {path}：{error.strerror}。") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CommandError(
            f"{path.name} 不是 UTF-8 编码（第 {error.start + 1} 个字节）；请先转换为 UTF-8。"
        ) from None


def check_target(path: Path) -> None:
    """Checked before the work, so a typo in -o does not cost a run."""
    if path.is_dir():
        raise CommandError(f"-o {path} 是一个目录，请给出文件名。")
    if not path.parent.is_dir():
        raise CommandError(f"-o {path}：目录 {path.parent} 不存在。")


def write_atomically(path: Path, text: str) -> None:
    """Write next to the target and rename: the loader never sees a half-written file."""
    try:
        descriptor, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
    except OSError as error:
        raise CommandError(f"无法写入 {path}：{error.strerror}。") from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as file:
            file.write(text)
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would be odd for a committed file
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise CommandError(f"无法写入 {path}：{error.strerror}。") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
