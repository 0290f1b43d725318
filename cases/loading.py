"""Reading the editors' batch files (JSON or CSV) into a plan of catalogue changes.

The management command only reads bytes and prints. Everything in between lives here: decoding,
parsing, checking every row, and comparing the rows with the catalogue. That keeps the rules
testable without output, and lets a bad file be rejected as a whole — with every problem listed —
before a single row is written.

File-level problems that make the rest meaningless (unknown encoding, broken JSON, a wrong CSV
header) raise `LoadError`; row-level problems are collected into `LoadPlan.errors`.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import PurePath
from typing import Protocol

from django.db import IntegrityError, transaction

from .models import MAX_CASE_NUMBER, PARAGRAPH_SEPARATOR, Batch, Case, format_number

# Limits come from the models where the models have them, so the two cannot drift apart.
TITLE_MAX_LENGTH = Case._meta.get_field("title").max_length
PROVINCE_MAX_LENGTH = Case._meta.get_field("province").max_length
BATCH_NAME_MAX_LENGTH = Batch._meta.get_field("name").max_length
# Batch.number is a PositiveSmallIntegerField: PostgreSQL refuses anything larger.
BATCH_NUMBER_MAX = 32_767
# A TextField has no limit; this one guards against a whole file pasted into one cell.
BODY_MAX_LENGTH = 20_000
# Enough to fix a file in one go without burying the first lines of the report.
MAX_REPORTED_ERRORS = 20

CSV_COLUMNS = ("number", "title", "province", "body")
JSON_TOP_KEYS = frozenset({"batch", "cases"})
JSON_BATCH_KEYS = ("number", "name", "notice", "first_number", "last_number")
JSON_BATCH_REQUIRED = ("number", "name", "first_number", "last_number")
COMPARED_CASE_FIELDS = ("title", "province", "body")
COMPARED_BATCH_FIELDS = ("name", "notice", "first_number", "last_number")

FIELD_LABELS = {
    "number": "编号（number）",
    "title": "名称（title）",
    "province": "省份（province）",
    "body": "案例介绍（body）",
    "name": "批次名称（name）",
    "notice": "公告（notice）",
    "first_number": "首个编号（first_number）",
    "last_number": "末个编号（last_number）",
}
# How a missing batch value is supplied on the command line, for errors that say what to add.
BATCH_OPTION_HINTS = {
    "name": "--batch-name 名称",
    "first_number": "--first 首个编号",
    "last_number": "--last 末个编号",
}


class LineReader(Protocol):
    """What `csv.reader` offers: rows, and the number of physical lines read so far."""

    line_num: int

    def __iter__(self) -> Iterator[list[str]]: ...

    def __next__(self) -> list[str]: ...


class LoadError(Exception):
    """The file cannot be read as a batch at all, so there are no rows to report on."""


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the file, phrased so an editor can find and fix it."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}：{self.message}"


@dataclass(frozen=True)
class BatchOptions:
    """The command-line description of the batch; a CSV file has no batch block of its own."""

    number: int | None = None
    name: str | None = None
    first_number: int | None = None
    last_number: int | None = None

    def given(self) -> bool:
        return any(value is not None for value in vars(self).values())


@dataclass(frozen=True)
class BatchFields:
    """What the file or the options say about the batch; None means "not given, keep as is"."""

    number: int | None
    name: str | None = None
    notice: str | None = None
    first_number: int | None = None
    last_number: int | None = None


@dataclass(frozen=True)
class RawRow:
    """One case as it stands in the file, before any checking."""

    place: str  # "第 4 行" (CSV line) or "第 3 条" (1-based index in "cases")
    values: Mapping[str, object]
    problems: tuple[str, ...] = ()  # shape problems found while parsing (extra columns, keys)


@dataclass(frozen=True)
class ParsedFile:
    filename: str
    batch_block: Mapping[str, object] | None  # None for CSV
    rows: list[RawRow]


@dataclass
class CaseRow:
    """One case after cleaning; it is written only if `problems` stays empty."""

    place: str
    raw_number: str
    number: int | None
    title: str
    province: str
    body: str
    problems: list[str] = field(default_factory=list)

    @property
    def number_label(self) -> str:
        if self.number is not None:
            return f"编号 {format_number(self.number)}"
        return f"编号 {self.raw_number}" if self.raw_number else "无编号"


@dataclass(frozen=True)
class BatchChange:
    number: int
    name: str
    notice: str
    first_number: int
    last_number: int
    action: Action
    changed_fields: tuple[str, ...] = ()
    existing: Batch | None = None

    @property
    def label(self) -> str:
        return (
            f"第{self.number}批：{self.name}"
            f"（{format_number(self.first_number)}–{format_number(self.last_number)}）"
        )


@dataclass(frozen=True)
class CaseChange:
    row: CaseRow
    action: Action
    changed_fields: tuple[str, ...] = ()
    existing: Case | None = None


@dataclass
class LoadPlan:
    """What loading the file would do. Only a plan without errors may be applied."""

    filename: str
    batch: BatchChange | None
    cases: list[CaseChange]
    errors: list[Problem]
    kept: int = 0  # cases of the batch already in the catalogue that the file does not list

    def count(self, action: Action) -> int:
        return sum(1 for change in self.cases if change.action == action)

    def error_report(self) -> str:
        shown = [f"  {problem}" for problem in self.errors[:MAX_REPORTED_ERRORS]]
        hidden = len(self.errors) - len(shown)
        if hidden:
            shown.append(f"  ……另有 {hidden} 处错误未列出（and {hidden} more）。")
        header = f"{self.filename} 有 {len(self.errors)} 处错误，没有写入任何数据："
        return "\n".join([header, *shown])


# --- Decoding ---------------------------------------------------------------------------------


def decode_text(raw: bytes, filename: str) -> str:
    """Excel in China saves GB18030; everything else editors send is UTF-8, maybe with a BOM.

    Strict UTF-8 is tried before GB18030 because GB18030 accepts many UTF-8 byte runs and turns
    them into the wrong characters; the reverse practically never happens.
    """
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise LoadError(
            f"{filename} 是 UTF-16 编码（Excel 的“Unicode 文本”）："
            "请另存为“CSV UTF-8（逗号分隔）”或 UTF-8 编码后再载入。"
        )
    if raw.startswith(codecs.BOM_UTF8):
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise LoadError(
                f"{filename} 以 UTF-8 BOM 开头，但第 {error.start + 1} 个字节起不是有效的 UTF-8。"
            ) from None
    else:
        text = decode_utf8_or_gb18030(raw, filename)
    text = normalise_newlines(text)
    if not text.strip():
        raise LoadError(f"{filename} 是空文件。")
    return text


def decode_utf8_or_gb18030(raw: bytes, filename: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as utf8_error:
        try:
            return raw.decode("gb18030")
        except UnicodeDecodeError:
            raise LoadError(
                f"{filename} 的编码无法识别：第 {utf8_error.start + 1} 个字节起既不是 UTF-8 也不是 "
                "GB18030。请用 UTF-8 另存后再载入。"
            ) from None


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def normalise_paragraphs(text: str) -> str:
    """One paragraph per non-blank line, stored with a blank line between, as the models read it."""
    return PARAGRAPH_SEPARATOR.join(line.strip() for line in text.split("\n") if line.strip())


# --- Parsing: bytes to raw rows ----------------------------------------------------------------


def detect_format(filename: str) -> str:
    suffix = PurePath(filename).suffix.lower()
    if suffix not in {".json", ".csv"}:
        raise LoadError(f"{filename}：只能载入 .json 或 .csv 文件（格式由扩展名决定）。")
    return suffix.removeprefix(".")


def parse_text(text: str, filename: str) -> ParsedFile:
    if detect_format(filename) == "json":
        return parse_json(text, filename)
    return parse_csv(text, filename)


def parse_json(text: str, filename: str) -> ParsedFile:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise LoadError(
            f"{filename} 不是有效的 JSON：第 {error.lineno} 行第 {error.colno} 列：{error.msg}。"
        ) from None
    except (RecursionError, ValueError) as error:  # nesting too deep, a 5,000-digit number
        raise LoadError(f"{filename} 不是可用的 JSON：{error}。") from None
    if not isinstance(data, dict):
        raise LoadError(f'{filename}：顶层应是对象 {{"batch": {{…}}, "cases": […]}}。')
    problems = []
    if unknown := sorted(set(data) - JSON_TOP_KEYS):
        problems.append(f"顶层有未知字段 {'、'.join(unknown)}（只认 batch 和 cases）")
    if not isinstance(data.get("batch"), dict):
        problems.append('缺少批次信息 "batch"（应是对象）')
    if not isinstance(data.get("cases"), list):
        problems.append('缺少案例列表 "cases"（应是数组）')
    elif not data["cases"]:
        problems.append('案例列表 "cases" 是空的')
    if problems:
        raise LoadError(f"{filename}：{'；'.join(problems)}。")
    rows = [json_row(index, item) for index, item in enumerate(data["cases"], start=1)]
    return ParsedFile(filename=filename, batch_block=data["batch"], rows=rows)


def json_row(index: int, item: object) -> RawRow:
    place = f"第 {index} 条"
    if not isinstance(item, dict):
        return RawRow(place=place, values={}, problems=("应是对象（{…}），不是列表或文字",))
    problems = ()
    if unknown := sorted(set(item) - set(CSV_COLUMNS)):
        problems = (f"未知字段 {'、'.join(unknown)}（只认 {'、'.join(CSV_COLUMNS)}）",)
    return RawRow(place=place, values=item, problems=problems)


def parse_csv(text: str, filename: str) -> ParsedFile:
    reader = csv.reader(io.StringIO(text))
    try:
        header = next((cells for cells in reader if any(cell.strip() for cell in cells)), None)
        if header is None:
            raise LoadError(f"{filename} 没有内容（只有空行或空单元格）。")
        columns = csv_columns(header, filename, reader.line_num)
        rows = list(csv_rows(reader, columns))
    except csv.Error as error:
        raise LoadError(f"{filename} 第 {reader.line_num} 行：CSV 格式错误（{error}）。") from None
    if not rows:
        raise LoadError(f"{filename}：只有表头，没有案例行。")
    return ParsedFile(filename=filename, batch_block=None, rows=rows)


def csv_columns(header: list[str], filename: str, line: int) -> list[str]:
    """Column names in file order; Excel's trailing empty header cells are ignored."""
    names = [cell.strip().lower() for cell in header]
    while names and not names[-1]:
        names.pop()
    problems = []
    if missing := [name for name in CSV_COLUMNS if name not in names]:
        problems.append(f"缺少列 {'、'.join(missing)}")
    if unknown := [name for name in names if name not in CSV_COLUMNS]:
        problems.append(f"有未知列 {'、'.join(repr(name) for name in unknown)}")
    if repeated := sorted(
        {name for name in names if name in CSV_COLUMNS and names.count(name) > 1}
    ):
        problems.append(f"列 {'、'.join(repeated)} 重复")
    if problems:
        raise LoadError(
            f"{filename} 第 {line} 行（表头）：{'；'.join(problems)}。"
            f"表头应为 {','.join(CSV_COLUMNS)}。"
        )
    return names


def csv_rows(reader: LineReader, columns: list[str]) -> Iterable[RawRow]:
    """Rows with the line each starts on: a quoted field may span several lines."""
    previous_end = reader.line_num
    for cells in reader:
        start, previous_end = previous_end + 1, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue  # blank lines and Excel's rows of empty cells
        values = dict(zip(columns, cells, strict=False))
        if "body" in values:
            # A spreadsheet cell cannot hold a newline easily, so editors type \n instead.
            values["body"] = values["body"].replace("\\r\\n", "\n").replace("\\n", "\n")
        yield RawRow(
            place=f"第 {start} 行", values=values, problems=csv_shape_problems(cells, columns)
        )


def csv_shape_problems(cells: list[str], columns: list[str]) -> tuple[str, ...]:
    extra = cells[len(columns) :]
    if any(cell.strip() for cell in extra):
        return (f"多出 {len(extra)} 列（表头只有 {len(columns)} 列），可能是正文里的逗号没加引号",)
    if len(cells) < len(columns):
        missing = "、".join(columns[len(cells) :])
        return (f"只有 {len(cells)} 列，缺少 {missing}",)
    return ()


# --- Cleaning: raw values to typed values -------------------------------------------------------


def parse_number(value: object) -> int:
    """An int, or digits as text ("031"); JSON true/31.5 and the like are mistakes."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("必须是整数")
    if isinstance(value, str):
        text = value.strip()
        if not text.isdecimal():
            raise ValueError("必须是整数")
        if len(text.lstrip("0")) > 9:  # far beyond any range; spares int() a 5,000-digit cell
            raise ValueError("太大")
        value = int(text)
    if abs(value) >= 10**9:  # JSON's integers too: the database's integers end at 2**63
        raise ValueError("太大")
    return value


def as_text(value: object, key: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{FIELD_LABELS[key]}必须是文字")
    if "\x00" in value:
        raise ValueError(f"{FIELD_LABELS[key]}含有空字符（\\x00），文件可能已损坏")
    return value


def as_paragraphs(value: object, key: str) -> str:
    """A list of paragraphs, or one string with paragraphs on separate lines."""
    if isinstance(value, list):
        if not all(isinstance(item, str) for item in value):
            raise ValueError(f"{FIELD_LABELS[key]}的段落必须都是文字")
        value = "\n".join(value)
    return normalise_paragraphs(as_text(value, key))


def clean_case(row: RawRow) -> CaseRow:
    values = row.values
    raw_number = values.get("number")
    case = CaseRow(
        place=row.place,
        raw_number="" if raw_number is None else str(raw_number).strip()[:20],
        number=None,
        title="",
        province="",
        body="",
        problems=list(row.problems),
    )
    if not row.values:
        return case  # not an object at all: one problem is enough
    if case.raw_number == "":
        case.problems.append(f"缺少{FIELD_LABELS['number']}")
    else:
        try:
            case.number = parse_number(raw_number)
        except ValueError as error:
            case.problems.append(f"{FIELD_LABELS['number']}{error}")
    for key, cleaner in (("title", as_text), ("province", as_text), ("body", as_paragraphs)):
        try:
            setattr(case, key, cleaner(values.get(key), key).strip())
        except ValueError as error:
            case.problems.append(str(error))
    case.problems.extend(case_text_problems(case))
    return case


def case_text_problems(case: CaseRow) -> list[str]:
    problems = []
    if not case.title:
        problems.append(f"缺少{FIELD_LABELS['title']}")
    problems.extend(one_line_problems(case.title, "title", TITLE_MAX_LENGTH))
    problems.extend(one_line_problems(case.province, "province", PROVINCE_MAX_LENGTH))
    if not case.body:
        problems.append(f"缺少{FIELD_LABELS['body']}")
    elif len(case.body) > BODY_MAX_LENGTH:
        problems.append(too_long("body", len(case.body), BODY_MAX_LENGTH))
    return problems


def one_line_problems(text: str, key: str, max_length: int) -> list[str]:
    problems = []
    if "\n" in text:
        problems.append(f"{FIELD_LABELS[key]}不能换行")
    if len(text) > max_length:
        problems.append(too_long(key, len(text), max_length))
    return problems


def too_long(key: str, length: int, max_length: int) -> str:
    return f"{FIELD_LABELS[key]}有 {length} 个字，超过 {max_length} 字的上限"


def is_blank(value: object) -> bool:
    """Absent, or text of spaces only: " " names no batch (it was once a traceback)."""
    return value is None or (isinstance(value, str) and not value.strip())


def clean_batch_block(block: Mapping[str, object]) -> tuple[BatchFields, list[str]]:
    """The JSON "batch" object; notice is optional and, if absent, left as it is."""
    problems = []
    if unknown := sorted(set(block) - set(JSON_BATCH_KEYS)):
        problems.append(f"未知字段 {'、'.join(unknown)}（只认 {'、'.join(JSON_BATCH_KEYS)}）")
    if missing := [key for key in JSON_BATCH_REQUIRED if is_blank(block.get(key))]:
        problems.append(f"缺少 {'、'.join(FIELD_LABELS[key] for key in missing)}")
    numbers: dict[str, int | None] = {}
    for key in ("number", "first_number", "last_number"):
        numbers[key] = None
        if not is_blank(block.get(key)):
            try:
                numbers[key] = parse_number(block[key])
            except ValueError as error:
                problems.append(f"{FIELD_LABELS[key]}{error}")
    name = notice = None
    try:
        name = as_text(block.get("name"), "name").strip() or None
        if "notice" in block:
            notice = as_paragraphs(block["notice"], "notice")
    except ValueError as error:
        problems.append(str(error))
    fields = BatchFields(
        number=numbers["number"],
        name=name,
        notice=notice,
        first_number=numbers["first_number"],
        last_number=numbers["last_number"],
    )
    return fields, problems


def batch_fields_from_options(options: BatchOptions) -> BatchFields:
    return BatchFields(
        number=options.number,
        name=options.name.strip() if options.name is not None else None,
        first_number=options.first_number,
        last_number=options.last_number,
    )


def batch_value_problems(fields: BatchFields) -> list[str]:
    """Checks that need no database: the model's own limits and its check constraints."""
    problems = []
    if fields.number is not None and not 1 <= fields.number <= BATCH_NUMBER_MAX:
        problems.append(f"批次编号须在 1 到 {BATCH_NUMBER_MAX} 之间")
    if fields.name == "":
        problems.append(f"{FIELD_LABELS['name']}不能为空")
    if fields.name is not None and "\x00" in fields.name:  # --batch-name; PostgreSQL refuses NUL
        problems.append(f"{FIELD_LABELS['name']}含有空字符（\\x00）")
    if fields.name is not None and len(fields.name) > BATCH_NAME_MAX_LENGTH:
        problems.append(too_long("name", len(fields.name), BATCH_NAME_MAX_LENGTH))
    for key in ("first_number", "last_number"):
        value = getattr(fields, key)
        if value is not None and not 1 <= value <= MAX_CASE_NUMBER:
            problems.append(f"{FIELD_LABELS[key]}须在 1 到 {MAX_CASE_NUMBER} 之间")
    return problems


# --- Checking against the batch and the catalogue ----------------------------------------------


def build_plan(raw: bytes, filename: str, options: BatchOptions | None = None) -> LoadPlan:
    """Decode, parse and check the whole file, and work out what loading it would change.

    Reads the catalogue but writes nothing. Call it inside the transaction that applies the plan,
    so the catalogue cannot change between checking and writing.
    """
    options = options or BatchOptions()
    parsed = parse_text(decode_text(raw, filename), filename)
    fields, batch_where, errors = batch_fields(parsed, options)
    rows = [clean_case(row) for row in parsed.rows]
    file_numbers = {row.number for row in rows if row.number is not None}
    batch = None
    if fields.number is not None:
        batch, batch_problems = resolve_batch(
            fields, file_numbers, from_options=parsed.batch_block is None
        )
        errors.extend(Problem(batch_where, message) for message in batch_problems)
    check_rows(rows, batch)
    if batch is not None:
        check_published_batch(rows, batch)
    errors.extend(
        Problem(f"{filename} {row.place}（{row.number_label}）", message)
        for row in rows
        for message in row.problems
    )
    if errors or batch is None:
        return LoadPlan(filename=filename, batch=batch, cases=[], errors=errors)
    return LoadPlan(
        filename=filename,
        batch=batch,
        cases=plan_case_changes(rows),
        errors=[],
        kept=count_kept_cases(batch, file_numbers),
    )


def batch_fields(
    parsed: ParsedFile, options: BatchOptions
) -> tuple[BatchFields, str, list[Problem]]:
    """The batch description from the JSON block, or from the options for a CSV file."""
    filename = parsed.filename
    if parsed.batch_block is not None:
        where = f"{filename} 批次信息（batch）"
        fields, messages = clean_batch_block(parsed.batch_block)
        if options.given():
            messages.append(
                "JSON 文件自带批次信息，不能再用 --batch、--batch-name、--first、--last；"
                "请改文件里的 batch 部分"
            )
    else:
        where = f"{filename} 的批次选项"
        fields, messages = batch_fields_from_options(options), []
        if options.number is None:
            messages.append(
                "CSV 文件不含批次信息：载入已有批次请加 --batch 批次编号；"
                "新建批次请加 --batch 批次编号 --batch-name 名称 --first 首个编号 --last 末个编号"
            )
    messages.extend(batch_value_problems(fields))
    return fields, where, [Problem(where, message) for message in messages]


def resolve_batch(
    fields: BatchFields, file_numbers: set[int], *, from_options: bool
) -> tuple[BatchChange | None, list[str]]:
    """Merge what the file says with the batch in the catalogue, and check the result fits."""
    existing = Batch.objects.filter(number=fields.number).first()
    if existing is None:
        missing = [key for key in BATCH_OPTION_HINTS if getattr(fields, key) is None]
        if missing:
            if not from_options:
                return None, []  # the JSON block's missing keys are already reported
            existing_numbers = "、".join(
                str(n) for n in Batch.objects.values_list("number", flat=True)
            )
            return None, [
                f"第{fields.number}批还不存在。要新建它，请再加 "
                f"{' '.join(BATCH_OPTION_HINTS[key] for key in missing)}"
                + (
                    f"；要载入已有批次，请把 --batch 改为 {existing_numbers} 之一"
                    if existing_numbers
                    else ""
                )
            ]
    change = merge_batch(fields, existing)
    problems = batch_range_problems(change, file_numbers)
    return (None if problems else change), problems


def merge_batch(fields: BatchFields, existing: Batch | None) -> BatchChange:
    values = {
        key: getattr(fields, key)
        if getattr(fields, key) is not None
        else getattr(existing, key, "")
        for key in COMPARED_BATCH_FIELDS
    }
    if existing is None:
        return BatchChange(number=fields.number, action=Action.CREATE, **values)
    changed = tuple(key for key in COMPARED_BATCH_FIELDS if getattr(existing, key) != values[key])
    return BatchChange(
        number=fields.number,
        action=Action.UPDATE if changed else Action.UNCHANGED,
        changed_fields=changed,
        existing=existing,
        **values,
    )


def batch_range_problems(batch: BatchChange, file_numbers: set[int]) -> list[str]:
    """A range must be ordered, must not overlap another batch, and must keep the batch's cases."""
    first, last = batch.first_number, batch.last_number
    if first > last:
        return [f"首个编号 {format_number(first)} 大于末个编号 {format_number(last)}"]
    problems = [
        f"范围 {format_number(first)}–{format_number(last)} 与第{other.number}批"
        f"（{other.number_range_display}）重叠"
        for other in Batch.objects.exclude(number=batch.number).filter(
            first_number__lte=last, last_number__gte=first
        )
    ]
    if batch.existing is not None:
        stranded = (
            Case.objects.filter(batch=batch.existing)
            .exclude(number__range=(first, last))
            .exclude(number__in=file_numbers)
        )
        problems.extend(
            f"第{batch.number}批已有案例 {case.display_number}《{case.title}》不在新范围 "
            f"{format_number(first)}–{format_number(last)} 内；载入不会删除或移动案例"
            for case in stranded
        )
    return problems


def check_rows(rows: list[CaseRow], batch: BatchChange | None) -> None:
    """Range, repeats in the file, and numbers taken by another batch: each row gets its reasons."""
    first_place: dict[int, str] = {}
    taken = taken_by_other_batches(rows, batch) if batch is not None else {}
    for row in rows:
        if row.number is None:
            continue
        if batch is not None and not batch.first_number <= row.number <= batch.last_number:
            row.problems.append(
                f"编号不在第{batch.number}批的范围（{format_number(batch.first_number)}–"
                f"{format_number(batch.last_number)}）内"
            )
        if row.number in first_place:
            row.problems.append(f"编号重复，{first_place[row.number]}已用过")
        first_place.setdefault(row.number, row.place)
        if other := taken.get(row.number):
            row.problems.append(
                f"编号已被第{other.batch.number}批的案例《{other.title}》使用；编号在全部批次中唯一"
            )


def check_published_batch(rows: list[CaseRow], batch: BatchChange) -> None:
    """A published batch's cases are public: its file may correct their text, but may
    not add a case (it would appear on a running ballot with no committee decision)."""
    existing = batch.existing
    if existing is None or not existing.is_published:
        return
    held = set(existing.cases.values_list("number", flat=True))
    for row in rows:
        if row.number is not None and row.number not in held and not row.problems:
            row.problems.append(
                f"第{batch.number}批已经发布，不能再增加案例；已有案例的文字可以更正"
            )


def taken_by_other_batches(rows: list[CaseRow], batch: BatchChange) -> dict[int, Case]:
    numbers = [row.number for row in rows if row.number is not None]
    cases = Case.objects.filter(number__in=numbers).exclude(batch__number=batch.number)
    return {case.number: case for case in cases.select_related("batch")}


def plan_case_changes(rows: list[CaseRow]) -> list[CaseChange]:
    """Compare field by field, so an unchanged case is not saved and keeps its updated_at."""
    existing = Case.objects.in_bulk([row.number for row in rows], field_name="number")
    changes = []
    for row in rows:
        case = existing.get(row.number)
        if case is None:
            changes.append(CaseChange(row=row, action=Action.CREATE))
            continue
        changed = tuple(
            key for key in COMPARED_CASE_FIELDS if getattr(case, key) != getattr(row, key)
        )
        action = Action.UPDATE if changed else Action.UNCHANGED
        changes.append(CaseChange(row=row, action=action, changed_fields=changed, existing=case))
    return changes


def count_kept_cases(batch: BatchChange, file_numbers: set[int]) -> int:
    if batch.existing is None:
        return 0
    return Case.objects.filter(batch=batch.existing).exclude(number__in=file_numbers).count()


# --- Writing -------------------------------------------------------------------------------------


def apply_plan(plan: LoadPlan) -> None:
    """Write the plan. Status is never touched and no case is ever deleted.

    The unique case number is the final word if another process loaded the same numbers since the
    plan was built; that surfaces as a LoadError rather than a traceback.
    """
    if plan.errors or plan.batch is None:
        raise ValueError("Only a plan without errors can be applied.")
    try:
        with transaction.atomic():
            batch = save_batch(plan.batch)
            for change in plan.cases:
                save_case(change, batch)
    except IntegrityError as error:
        raise LoadError(
            f"{plan.filename}：写入时目录被其他操作改动了（{error}），没有写入任何数据，请重新运行。"
        ) from None


def save_batch(change: BatchChange) -> Batch:
    values = {key: getattr(change, key) for key in COMPARED_BATCH_FIELDS}
    if change.action == Action.CREATE:
        return Batch.objects.create(number=change.number, **values)
    batch = change.existing
    if change.action == Action.UPDATE:
        for key in change.changed_fields:
            setattr(batch, key, values[key])
        batch.save(update_fields=list(change.changed_fields))
    return batch


def save_case(change: CaseChange, batch: Batch) -> None:
    row = change.row
    if change.action == Action.CREATE:
        Case.objects.create(
            number=row.number, batch=batch, title=row.title, province=row.province, body=row.body
        )
    elif change.action == Action.UPDATE:
        case = change.existing
        for key in change.changed_fields:
            setattr(case, key, getattr(row, key))
        case.save(update_fields=[*change.changed_fields, "updated_at"])
