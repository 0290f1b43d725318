"""`manage.py load_cases`: the editors load a batch from JSON or CSV, safely and repeatably."""

import csv
import io
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from cases.models import Batch, Case

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch2(batch2):
    """Here batch 2 is a draft the editors are still filling (a published batch takes
    no new case: see the tests at the end)."""
    batch2.published_at = None
    batch2.save()
    return batch2


ENCODINGS = ["utf-8", "utf-8-sig", "gb18030"]
CSV_HEADER = ["number", "title", "province", "body"]
# 0xFF can start neither a UTF-8 nor a GB18030 character.
UNDECODABLE = b"\xff\xfe\x80"


def case_data(number: int, /, **overrides: object) -> dict:
    return {
        "number": number,
        "title": f"望泉西里社区治理案例{number}",
        "province": "北京市",
        "body": [f"第一段，案例{number}。", f"第二段，案例{number}：共建共治共享。"],
        **overrides,
    }


def batch_data(numbers=range(31, 36), cases: list[dict] | None = None, **batch: object) -> dict:
    return {
        "batch": {
            "number": 2,
            "name": "第二批初选入围案例",
            "notice": ["第一段公告。", "第二段公告：严禁刷票。"],
            "first_number": 31,
            "last_number": 60,
            **batch,
        },
        "cases": cases if cases is not None else [case_data(n) for n in numbers],
    }


def write_json(tmp_path: Path, data: dict, name: str = "batch2.json", encoding="utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(json.dumps(data, ensure_ascii=False, indent=2).encode(encoding))
    return path


def write_csv(
    tmp_path: Path,
    rows: list[list[object]],
    name: str = "batch2.csv",
    encoding: str = "utf-8",
    header: list[str] = CSV_HEADER,
) -> Path:
    """As Excel writes it: CRLF line endings, quotes only where needed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    path = tmp_path / name
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def csv_row(number: int, /, **overrides: object) -> list[object]:
    values = {
        "number": f"{number:03d}",
        "title": f"望泉西里社区治理案例{number}",
        "province": "北京市",
        "body": f"第一段，案例{number}。\\n第二段，案例{number}。",
        **overrides,
    }
    return [values[column] for column in CSV_HEADER]


def load(path: Path | str, *args: str, **options: object) -> str:
    out = io.StringIO()
    call_command("load_cases", str(path), *args, stdout=out, **options)
    return out.getvalue()


def catalogue() -> tuple[list[dict], list[dict]]:
    """Every stored value, timestamps included, to prove a run wrote nothing."""
    return (
        list(Batch.objects.order_by("number").values()),
        list(Case.objects.order_by("number").values()),
    )


# --- Good files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_it_loads_json_in_each_encoding(tmp_path, encoding):
    path = write_json(tmp_path, batch_data(), encoding=encoding)
    if encoding == "gb18030":
        with pytest.raises(UnicodeDecodeError):
            path.read_bytes().decode("utf-8")  # so the GB18030 fallback really runs

    output = load(path)

    batch = Batch.objects.get(number=2)
    assert (batch.name, batch.first_number, batch.last_number) == ("第二批初选入围案例", 31, 60)
    assert batch.notice == "第一段公告。\n\n第二段公告：严禁刷票。"
    assert list(Case.objects.values_list("number", flat=True)) == [31, 32, 33, 34, 35]
    case = Case.objects.get(number=33)
    assert case.batch == batch
    assert case.title == "望泉西里社区治理案例33"
    assert case.province == "北京市"
    assert case.body == "第一段，案例33。\n\n第二段，案例33：共建共治共享。"
    assert case.status == Case.Status.CANDIDATE
    assert "第2批：第二批初选入围案例（031–060） created" in output
    assert "created 5, updated 0, unchanged 0" in output


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_it_loads_csv_in_each_encoding_into_an_existing_batch(tmp_path, batch2, encoding):
    rows = [
        csv_row(31, body="第一段。\r\n第二段。"),  # a real newline inside a quoted field
        csv_row(32, body="第一段。\\n\\n第二段。"),  # backslash-n typed into a cell
        csv_row(33, province=""),
    ]
    path = write_csv(tmp_path, rows, encoding=encoding)

    output = load(path, batch=2)

    assert "created 3, updated 0, unchanged 0" in output
    assert Case.objects.get(number=31).body == "第一段。\n\n第二段。"
    assert Case.objects.get(number=32).body == "第一段。\n\n第二段。"
    assert Case.objects.get(number=33).province == ""
    assert Case.objects.get(number=33).body == "第一段，案例33。\n\n第二段，案例33。"
    assert set(Case.objects.values_list("batch", flat=True)) == {batch2.pk}


def test_it_creates_the_batch_of_a_csv_file_from_the_options(tmp_path, batch2):
    path = write_csv(tmp_path, [csv_row(61), csv_row(62)], name="batch3.csv")

    output = load(path, batch=3, batch_name="第三批初选入围案例", first=61, last=90)

    batch = Batch.objects.get(number=3)
    assert (batch.name, batch.notice, batch.first_number, batch.last_number) == (
        "第三批初选入围案例",
        "",
        61,
        90,
    )
    assert list(batch.cases.values_list("number", flat=True)) == [61, 62]
    assert "created 2, updated 0, unchanged 0" in output


def test_it_accepts_digit_strings_and_single_string_bodies(tmp_path):
    cases = [case_data(31, number="031", body="第一段。\n\n第二段。\n第三段。")]
    path = write_json(tmp_path, batch_data(cases=cases, notice="只有一段公告。", number="2"))

    load(path)

    assert Case.objects.get(number=31).body == "第一段。\n\n第二段。\n\n第三段。"
    assert Batch.objects.get(number=2).notice == "只有一段公告。"


def test_it_changes_nothing_when_the_same_file_is_loaded_again(tmp_path):
    path = write_json(tmp_path, batch_data())
    load(path)
    before = catalogue()

    output = load(path)

    assert "unchanged" in output.splitlines()[0]
    assert "created 0, updated 0, unchanged 5" in output
    assert catalogue() == before  # updated_at included: unchanged rows are not saved


def test_it_updates_exactly_the_case_whose_title_changed(tmp_path):
    load(write_json(tmp_path, batch_data()))
    before = {case["number"]: case for case in catalogue()[1]}
    data = batch_data()
    data["cases"][2]["title"] = "新的名称"

    output = load(write_json(tmp_path, data), verbosity=2)

    assert "created 0, updated 1, unchanged 4" in output
    assert "updated 033 新的名称 (title)" in output
    after = {case["number"]: case for case in catalogue()[1]}
    assert after[33]["title"] == "新的名称"
    assert after[33]["updated_at"] > before[33]["updated_at"]
    assert {n: after[n] for n in after if n != 33} == {n: before[n] for n in before if n != 33}


def test_it_keeps_cases_that_are_not_in_the_file(tmp_path, make_case):
    make_case(59, title="不在文件里的案例")

    output = load(write_json(tmp_path, batch_data()))

    assert Case.objects.get(number=59).title == "不在文件里的案例"
    assert Case.objects.count() == 6
    assert "Kept 1 case(s) of batch 2" in output


def test_it_never_changes_a_case_status(tmp_path, make_case):
    make_case(31, title="旧名称", status=Case.Status.DISQUALIFIED)

    load(write_json(tmp_path, batch_data()))

    case = Case.objects.get(number=31)
    assert case.title == "望泉西里社区治理案例31"
    assert case.status == Case.Status.DISQUALIFIED


def test_it_updates_an_existing_batch_from_the_json_block_and_says_so(tmp_path, batch2):
    data = batch_data(name="第二批入围案例（更正）", notice=["新的公告。"])

    output = load(write_json(tmp_path, data))

    batch2.refresh_from_db()
    assert (batch2.name, batch2.notice) == ("第二批入围案例（更正）", "新的公告。")
    assert "updated (name, notice)" in output


def test_it_reports_a_dry_run_and_writes_nothing(tmp_path, make_case):
    make_case(31, title="旧名称")
    before = catalogue()

    output = load(write_json(tmp_path, batch_data()), dry_run=True, verbosity=2)

    assert catalogue() == before
    assert "Dry run: nothing was written." in output
    assert "would create 4, update 1, unchanged 0" in output
    assert "would update 031 望泉西里社区治理案例31 (title, body)" in output
    assert "would create 035 望泉西里社区治理案例35" in output


def test_it_is_silent_at_verbosity_zero(tmp_path):
    assert load(write_json(tmp_path, batch_data()), verbosity=0) == ""


# --- Bad files: a CommandError naming the problem, and the catalogue untouched --------------------


@pytest.fixture
def catalogue_with_batches(tmp_path):
    """Batch 2 with cases 31–35, and batch 1 holding a misfiled legacy case 045."""
    load(write_json(tmp_path, batch_data(), name="base.json"))
    batch1 = Batch.objects.create(number=1, name="第一批", first_number=1, last_number=30)
    Case.objects.create(number=45, batch=batch1, title="第一批的旧案例", body="正文。")


def broken_json(tmp_path: Path) -> Path:
    path = tmp_path / "batch2.json"
    path.write_text('{\n  "batch": {"number": 2}\n  "cases": []\n}', encoding="utf-8")
    return path


def undecodable_csv(tmp_path: Path) -> Path:
    path = tmp_path / "batch2.csv"
    path.write_bytes(b"number,title,province,body\r\n031," + UNDECODABLE + b",x,y\r\n")
    return path


def json_with(tmp_path: Path, *cases: dict) -> Path:
    return write_json(tmp_path, batch_data(cases=[case_data(31), case_data(32), *cases]))


def csv_with(tmp_path: Path, *rows: list[object]) -> Path:
    return write_csv(tmp_path, [csv_row(31), csv_row(32), *rows])


def empty_file(tmp_path: Path) -> Path:
    path = tmp_path / "batch2.csv"
    path.write_bytes(b"")
    return path


def directory(tmp_path: Path) -> Path:
    path = tmp_path / "batch2.json"
    path.mkdir()
    return path


BAD_FILES = {
    "missing file": (lambda p: p / "nope.json", {}, ["找不到文件", "nope.json"]),
    "directory": (directory, {}, ["batch2.json 是一个目录"]),
    "empty file": (empty_file, {"batch": 2}, ["batch2.csv 是空文件"]),
    "unknown extension": (
        lambda p: write_json(p, batch_data(), name="batch2.txt"),
        {},
        ["batch2.txt", ".json 或 .csv"],
    ),
    "utf-16 file": (
        lambda p: write_json(p, batch_data(), encoding="utf-16"),
        {},
        ["batch2.json 是 UTF-16 编码", "UTF-8"],
    ),
    # Found by the fuzz tier: a blank name of a new batch was a ValueError traceback.
    "blank name of a new batch": (
        lambda p: write_json(p, batch_data(number=9, name=" ")),
        {},
        ["批次信息（batch）：缺少 批次名称（name）"],
    ),
    "json without cases": (
        lambda p: write_json(p, batch_data(cases=[])),
        {},
        ['batch2.json：案例列表 "cases" 是空的'],
    ),
    "csv with only a header": (
        lambda p: write_csv(p, []),
        {"batch": 2},
        ["batch2.csv：只有表头，没有案例行"],
    ),
    "case that is not an object": (
        lambda p: write_json(p, batch_data(cases=[case_data(31), "案例32"])),
        {},
        ["batch2.json 第 2 条（无编号）：应是对象"],
    ),
    "unknown key in a case": (
        lambda p: json_with(p, case_data(33, titel="错拼")),
        {},
        ["batch2.json 第 3 条（编号 033）：未知字段 titel"],
    ),
    "broken json": (broken_json, {}, ["batch2.json 不是有效的 JSON：第 3 行第 3 列"]),
    "bad encoding": (undecodable_csv, {"batch": 2}, ["batch2.csv 的编码无法识别", "GB18030"]),
    "missing header column": (
        lambda p: write_csv(p, [[31, "名称", "正文"]], header=["number", "title", "body"]),
        {"batch": 2},
        ["batch2.csv 第 1 行（表头）：缺少列 province"],
    ),
    "unknown header column": (
        lambda p: write_csv(p, [csv_row(31) + ["x"]], header=[*CSV_HEADER, "author"]),
        {"batch": 2},
        ["batch2.csv 第 1 行（表头）", "未知列 'author'"],
    ),
    "extra column in a row": (
        lambda p: csv_with(p, csv_row(33) + ["多余"]),
        {"batch": 2},
        ["batch2.csv 第 4 行（编号 033）：多出 1 列"],
    ),
    "empty title": (
        lambda p: json_with(p, case_data(33, title=" ")),
        {},
        ["batch2.json 第 3 条（编号 033）：缺少名称（title）"],
    ),
    "empty body": (
        lambda p: csv_with(p, csv_row(33, body="\\n")),
        {"batch": 2},
        ["batch2.csv 第 4 行（编号 033）：缺少案例介绍（body）"],
    ),
    "missing number": (
        lambda p: json_with(p, {"title": "无编号", "body": "正文"}),
        {},
        ["batch2.json 第 3 条（无编号）：缺少编号（number）"],
    ),
    "number not an integer": (
        lambda p: csv_with(p, csv_row(33, number="33a")),
        {"batch": 2},
        ["batch2.csv 第 4 行（编号 33a）：编号（number）必须是整数"],
    ),
    "number out of range": (
        lambda p: csv_with(p, csv_row(61)),
        {"batch": 2},
        ["batch2.csv 第 4 行（编号 061）：编号不在第2批的范围（031–060）内"],
    ),
    "repeated number": (
        lambda p: json_with(p, case_data(32, title="另一个")),
        {},
        ["batch2.json 第 3 条（编号 032）：编号重复，第 2 条已用过"],
    ),
    "number used by another batch": (
        lambda p: json_with(p, case_data(45)),
        {},
        ["batch2.json 第 3 条（编号 045）：编号已被第1批的案例《第一批的旧案例》使用"],
    ),
    "too-long title": (
        lambda p: json_with(p, case_data(33, title="名" * 121)),
        {},
        ["第 3 条（编号 033）：名称（title）有 121 个字，超过 120 字的上限"],
    ),
    "too-long province": (
        lambda p: csv_with(p, csv_row(33, province="省" * 21)),
        {"batch": 2},
        ["第 4 行（编号 033）：省份（province）有 21 个字，超过 20 字的上限"],
    ),
    "too-long body": (
        lambda p: json_with(p, case_data(33, body="字" * 20_001)),
        {},
        ["第 3 条（编号 033）：案例介绍（body）有 20001 个字，超过 20000 字的上限"],
    ),
    "csv without --batch": (
        lambda p: csv_with(p),
        {},
        ["batch2.csv 的批次选项", "--batch 批次编号", "--batch-name 名称 --first 首个编号 --last"],
    ),
    "csv naming a batch that does not exist": (
        lambda p: csv_with(p),
        {"batch": 5, "first": 61},
        ["第5批还不存在。要新建它，请再加 --batch-name 名称 --last 末个编号", "改为 1、2 之一"],
    ),
    "csv with an empty batch name": (
        lambda p: csv_with(p),
        {"batch": 4, "batch_name": " ", "first": 91, "last": 120},
        ["batch2.csv 的批次选项：批次名称（name）不能为空"],
    ),
    # Found by the fuzz tier on PostgreSQL, which cannot store NUL (a traceback).
    "batch name with a NUL byte": (
        lambda p: csv_with(p),
        {"batch": 2, "batch_name": "第二批\x00"},
        ["batch2.csv 的批次选项：批次名称（name）含有空字符（\\x00）"],
    ),
    "json with batch options": (
        lambda p: json_with(p),
        {"batch": 2},
        ["batch2.json 批次信息（batch）：JSON 文件自带批次信息，不能再用 --batch"],
    ),
    "batch range overlapping another batch": (
        lambda p: write_json(p, batch_data(first_number=25)),
        {},
        ["批次信息（batch）：范围 025–060 与第1批（001–030）重叠"],
    ),
    "batch range leaving a case outside": (
        lambda p: write_json(p, batch_data(numbers=[31, 32], last_number=34)),
        {},
        ["第2批已有案例 035《望泉西里社区治理案例35》不在新范围 031–034 内"],
    ),
}


@pytest.mark.parametrize(("make_file", "options", "expected"), BAD_FILES.values(), ids=BAD_FILES)
def test_it_rejects_a_bad_file_and_changes_nothing(
    tmp_path, catalogue_with_batches, make_file, options, expected
):
    path = make_file(tmp_path)
    before = catalogue()

    with pytest.raises(CommandError) as error:
        load(path, **options)

    for fragment in expected:
        assert fragment in str(error.value)
    assert catalogue() == before


def test_it_treats_the_undecodable_bytes_as_invalid_in_both_encodings():
    for encoding in ("utf-8", "gb18030"):
        with pytest.raises(UnicodeDecodeError):
            UNDECODABLE.decode(encoding)


def test_it_rejects_a_file_with_one_bad_row_among_good_ones_entirely(tmp_path, batch2):
    path = json_with(tmp_path, case_data(33), case_data(61))

    with pytest.raises(CommandError):
        load(path)

    assert not Case.objects.exists()


def test_it_names_the_line_a_multi_line_csv_record_starts_on(tmp_path, batch2):
    rows = [csv_row(31, body="第一段。\r\n\r\n第二段。"), csv_row(32, body="一\r\n二"), csv_row(61)]

    with pytest.raises(CommandError) as error:
        load(write_csv(tmp_path, rows), batch=2)

    assert "batch2.csv 第 7 行（编号 061）：编号不在第2批的范围" in str(error.value)


def test_it_reports_every_problem_at_once_but_lists_only_the_first_twenty(tmp_path, batch2):
    rows = [csv_row(n, title="") for n in range(31, 56)]
    rows.append(csv_row(99))

    with pytest.raises(CommandError) as error:
        load(write_csv(tmp_path, rows), batch=2)

    message = str(error.value)
    assert "batch2.csv 有 26 处错误，没有写入任何数据" in message
    assert "第 2 行（编号 031）：缺少名称（title）" in message
    assert "第 21 行（编号 050）" in message
    assert "第 22 行（编号 051）" not in message
    assert "另有 6 处错误未列出（and 6 more）" in message


# --- The real batch-2 catalogue -----------------------------------------------------------------

REAL_FIXTURE = settings.BASE_DIR / "fixtures" / "batch2.json"


def test_it_loads_the_real_batch_2_file_once_and_then_finds_nothing_to_change():
    output = load(REAL_FIXTURE)

    assert "created 30, updated 0, unchanged 0" in output
    batch = Batch.objects.get(number=2)
    assert list(batch.cases.values_list("number", flat=True)) == list(range(31, 61))
    before = catalogue()

    assert "created 0, updated 0, unchanged 30" in load(REAL_FIXTURE)
    assert catalogue() == before


def test_a_case_number_beyond_any_integer_column_is_refused_by_name(batch2, tmp_path):
    """Found by the fuzz tier: 10**19 in a JSON file reached the database's integer."""
    path = tmp_path / "huge.json"
    path.write_text(json.dumps({"batch": {"number": 2}, "cases": [{"number": 10**19}]}))

    with pytest.raises(CommandError, match="太大"):
        call_command("load_cases", str(path), stdout=io.StringIO(), verbosity=0)
