"""`manage.py extract_cases`: the scraped batch-2 page becomes the committed batch file."""

import io
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from tools.extraction import (
    case_title_and_province,
    clean_lines,
    find_subject,
    parse_chain,
    repeat_length,
    split_layout,
)

FIXTURES = settings.BASE_DIR / "fixtures"
PAGE = FIXTURES / "batch2-announcement.txt"
COMMITTED = FIXTURES / "batch2.json"
# Written out here on purpose, not imported: the test checks the module's pattern.
ADS = re.compile(r"bd半岛(?:体育|官网)")
REAL_ARGS = ("--batch", "2", "--first", "31")

TITLES = {
    31: "北京市顺义区望泉西里南一社区",
    32: "北京市东城区建国门街道赵家楼社区",
    33: "江苏省镇江市润州区",
    34: "吉林省长春市绿园区",
    35: "甘肃省玉门市赤金镇",
    36: "浙江省嘉兴市秀洲区",
    37: "四川省泸州市天立社区",
    38: "四川省成都市温江区金马街道",
    39: "重庆市大渡口区八桥镇融城社区",
    40: "福建省宁德市福安市罗江街道",
    41: "重庆市沙坪坝区石井坡街道团结坝社区",
    42: "浙江省长兴县吕山乡龙溪村",
    43: "内蒙古自治区达拉特旗昭君街道南干社区",
    44: "江苏省无锡市惠山区陈家桥社区沁春园小区",
    45: "安徽省合肥市包河区方兴社区",
    46: "安徽省霍邱县夏店镇砖佛寺村",
    47: "四川省成都市锦江区",
    48: "社区伙伴计划",
    49: "河南省焦作市解放区",
    50: "辽宁省沈阳市铁西区兴顺街道嘉业社区",
    51: "四川省宜宾市南溪区",
    52: "湖北省利川市",
    53: "河南省郑州市管城回族区",
    54: "甘肃省金昌市永昌县",
    55: "广西梧州市龙圩区龙圩镇凤岭社区",
    56: "福建省厦门市思明区嘉莲街道莲花北社区观远里小区",
    57: "河南省范县龙王庄镇",
    58: "浙江宁波镇海区招宝山街道后海塘企业社区",
    59: "辽宁省大连市沙河口区星海湾街道莲花山社区",
    60: "云南省楚雄市鹿城镇西苑社区",
}
PROVINCES = {
    31: "北京市",
    32: "北京市",
    33: "江苏省",
    34: "吉林省",
    35: "甘肃省",
    36: "浙江省",
    37: "四川省",
    38: "四川省",
    39: "重庆市",
    40: "福建省",
    41: "重庆市",
    42: "浙江省",
    43: "内蒙古自治区",
    44: "江苏省",
    45: "安徽省",
    46: "安徽省",
    47: "四川省",
    48: "",
    49: "河南省",
    50: "辽宁省",
    51: "四川省",
    52: "湖北省",
    53: "河南省",
    54: "甘肃省",
    55: "广西壮族自治区",
    56: "福建省",
    57: "河南省",
    58: "浙江省",
    59: "辽宁省",
    60: "云南省",
}


def extract(source: Path, *args: str, **options: object) -> tuple[str, str]:
    """Run the command; returns (stdout, stderr)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command("extract_cases", str(source), *args, stdout=stdout, stderr=stderr, **options)
    return stdout.getvalue(), stderr.getvalue()


@pytest.fixture(scope="module")
def real_run(tmp_path_factory) -> tuple[Path, str]:
    """The real page extracted once for the whole module: (output file, report)."""
    output = tmp_path_factory.mktemp("extracted") / "batch2.json"
    report, _ = extract(PAGE, *REAL_ARGS, "-o", str(output))
    return output, report


@pytest.fixture(scope="module")
def batch(real_run) -> dict:
    return json.loads(real_run[0].read_text(encoding="utf-8"))


def case_paragraphs_of_the_page() -> set[str]:
    """Every distinct indented paragraph between the notice and the footer, ads removed."""
    lines = PAGE.read_text(encoding="utf-8").split("\n")
    first_case = next(n for n, line in enumerate(lines) if "望泉西里南一社区结合" in line)
    footer = next(n for n, line in enumerate(lines) if "分享你的游记与攻略" in line)
    return {ADS.sub("", line).strip() for line in lines[first_case:footer] if line.strip()}


# --- The real page --------------------------------------------------------------------------


def test_it_reproduces_the_committed_batch_file_byte_for_byte(real_run):
    output, _ = real_run

    assert output.read_bytes() == COMMITTED.read_bytes()


def test_it_writes_the_same_bytes_to_standard_output_and_reports_on_standard_error():
    stdout, stderr = extract(PAGE, *REAL_ARGS, "-o", "-")

    assert stdout.encode("utf-8") == COMMITTED.read_bytes()
    assert "removed 5 injected ad string(s)" in stderr


def test_it_numbers_thirty_cases_from_031_to_060(batch):
    assert [case["number"] for case in batch["cases"]] == list(range(31, 61))
    assert batch["batch"] | {"notice": None} == {
        "number": 2,
        "name": "第二批初选入围案例",
        "notice": None,
        "first_number": 31,
        "last_number": 60,
    }


def test_it_keeps_every_case_paragraph_of_the_page_exactly_once(batch):
    paragraphs = Counter(p for case in batch["cases"] for p in case["body"])

    assert set(paragraphs) == case_paragraphs_of_the_page()
    assert set(paragraphs.values()) == {1}


def test_it_leaves_no_advertising_anywhere(real_run):
    assert "半岛" not in real_run[0].read_text(encoding="utf-8")


def test_it_keeps_the_wording_and_ascii_commas_as_published(batch):
    first = batch["cases"][0]["body"][0]
    removed_ad = batch["cases"][22]["body"][0]

    assert first.startswith("北京市顺义区望泉西里南一社区结合工作实际,着力理清")
    assert "是社区治理的重要领域。河南省郑州市管城回族区作为主城区" in removed_ad


def test_it_takes_the_notice_from_the_indented_lines_before_the_first_case(batch):
    notice = batch["batch"]["notice"]

    assert len(notice) == 5
    assert notice[0].startswith("为深入学习贯彻落实党的二十大精神")
    assert "刷票" in notice[-1]


def test_it_names_each_case_after_the_place_its_first_sentence_names(batch):
    assert {case["number"]: case["title"] for case in batch["cases"]} == TITLES


def test_it_gives_each_case_the_official_name_of_its_province(batch):
    assert {case["number"]: case["province"] for case in batch["cases"]} == PROVINCES


def test_it_reports_what_it_dropped(real_run):
    _, report = real_run

    assert "dropped page chrome: line 1 「当前所在位置" in report
    assert "line 3 「全国城乡社区高质量发展典型案例候选展示投票(第二批)」" in report
    assert "dropped footer: line 183" in report
    assert "line 186 「网站地图」" in report
    assert "removed 5 injected ad string(s) (lines 3, 105, 127, 129, 135)" in report
    assert "Batch 2 第二批初选入围案例: 30 cases, 031-060" in report


# --- The rules, on a few characters ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("北京市顺义区望泉西里南一社区结合工作实际", ["北京市", "顺义区", "望泉西里南一社区"]),
        # 宁波镇 looks like a township; only the longest reading sees 宁波's 镇海区.
        (
            "浙江宁波镇海区招宝山街道后海塘企业社区以",
            ["浙江", "宁波镇海区", "招宝山街道", "后海塘企业社区"],
        ),
        ("福安市罗江街道具备良好的区位优势", ["福安市", "罗江街道"]),
        ("福建省宁德市福安市罗江街道", ["福建省", "宁德市", "福安市", "罗江街道"]),
        (
            "江苏省无锡市惠山区陈家桥社区的沁春园小区是",
            ["江苏省", "无锡市", "惠山区", "陈家桥社区", "沁春园小区"],
        ),
        ("四川省泸州市天立社区充分发挥", ["四川省", "泸州市", "天立社区"]),
        # Predicate words stop the chain, even where a suffix follows them.
        ("吉林省长春市绿园区结合辖区社区特点", ["吉林省", "长春市", "绿园区"]),
        ("江苏省镇江市润州区适应城市社区治理新形势", ["江苏省", "镇江市", "润州区"]),
        ("成都市核心城区之一", ["成都市"]),
        ("湖北省利川市是以土家族", ["湖北省", "利川市"]),
        # Levels only go down: a township cannot contain a district.
        ("龙王庄镇沙坪坝区", ["龙王庄镇"]),
        ("浙江省发布《行动计划》以来", ["浙江省"]),
        ("是社区治理的重要领域", []),
        ("住宅楼院(小区)是市民群众生活的基本场所", []),
    ],
)
def test_it_reads_the_administrative_chain_at_the_start_of_a_clause(text, parts):
    assert [part.text for part in parse_chain(text).parts] == parts


def test_it_drops_the_joining_de_from_the_title_and_knows_the_official_province():
    chain = parse_chain("广西梧州市龙圩区龙圩镇凤岭社区坚持")

    assert chain.title == "广西梧州市龙圩区龙圩镇凤岭社区"
    assert chain.province == "广西壮族自治区"
    assert parse_chain("陈家桥社区的沁春园小区").title == "陈家桥社区沁春园小区"


@pytest.mark.parametrize(
    ("paragraph", "title"),
    [
        ("近年来,江苏省镇江市润州区适应城市社区治理新形势。", "江苏省镇江市润州区"),
        ("作为四川省成都市核心城区之一,锦江区共有1221个小区(院落)。", "四川省成都市锦江区"),
        (
            "作为福建省宁德市发展外向型经济的窗口,福安市罗江街道具备良好的区位优势。",
            "福建省宁德市福安市罗江街道",
        ),
        # A lone province is mentioned in passing; the subject comes after it.
        (
            "基层治理是国家治理的基石,浙江省发布《计划》以来,浙江省嘉兴市秀洲区聚焦基层治理。",
            "浙江省嘉兴市秀洲区",
        ),
        # A general first sentence passes the search on to the next one.
        (
            "楼院是社区治理的重要领域。河南省郑州市管城回族区作为主城区,楼院年代久远。",
            "河南省郑州市管城回族区",
        ),
    ],
)
def test_it_finds_the_subject_of_a_first_paragraph(paragraph, title):
    assert find_subject(paragraph).title == title


def test_it_finds_no_subject_in_a_paragraph_without_a_place():
    assert find_subject("基层治理是国家治理的基石。社区是居民的家。") is None


def test_it_titles_a_programme_by_its_quoted_name_and_looks_further_for_a_province():
    assert case_title_and_province(["“社区伙伴计划”于2013年正式启动。"]) == ("社区伙伴计划", "")
    assert case_title_and_province(["《邻里守望》项目启动。", "项目在上海市试点。"]) == (
        "邻里守望",
        "上海市",
    )


def test_it_takes_the_smallest_repeat_as_one_case():
    assert repeat_length(["甲", "乙", "甲", "乙", "丙"], 0) == 2
    assert repeat_length(["甲", "甲", "甲", "甲"], 0) == 1
    assert repeat_length(["甲", "乙", "丙"], 0) is None


def test_it_matches_the_two_copies_after_removing_an_ad_from_one_of_them():
    page = clean_lines(
        "标题\n\n  公告。\n\n  第一段bd半岛官网。\n\n  第二段。\n\n  第一段。\n\n  第二段。\n",
        re.compile(r"bd半岛(?:体育|官网)"),
    )
    layout = split_layout(page.lines)

    assert page.ads_removed == (5,)
    assert [line.text for line in layout.chrome] == ["标题"]
    assert [line.text for line in layout.notice] == ["公告。"]
    assert [[line.text for line in case] for case in layout.cases] == [["第一段。", "第二段。"]]


# --- Options and errors, on a small page ----------------------------------------------------

SMALL_NOTICE = "今天向您展示的是第二批初选入围案例(第031-033号),请投票!"
SMALL_CASES = [
    ["北京市东城区甲社区结合实际,探索治理。", "第二段,甲社区。"],
    ["近年来,上海市乙区坚持党建引领。"],
    ["作为浙江省杭州市核心城区之一,丙区探索治理。", "第二段,丙区。"],
]


def small_page(
    cases=SMALL_CASES, notice: str = SMALL_NOTICE, between: str | None = None, ad: str = ""
) -> str:
    """A page shaped like the real one: chrome, notice, every case twice, footer."""
    lines = ["当前所在位置: 首页 > 案例展示", f"{ad}候选展示投票(第二批)", f"  {notice}"]
    for index, paragraphs in enumerate(cases):
        if between is not None and index == len(cases) - 1:
            lines.append(f"  {between}")
        lines += [f"  {p}" for p in paragraphs] * 2
    lines += ["  分享你的游记与攻略。", "网站地图"]
    return "\n\n".join(lines)


def small_args(*, batch: str = "2", first: str = "31", count: str = "3") -> list[str]:
    return ["--batch", batch, "--first", first, "--count", count]


@pytest.fixture
def folders(tmp_path) -> tuple[Path, Path]:
    """(source folder, output folder): the output folder must stay empty on failure."""
    source, output = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    output.mkdir()
    return source, output


def write_page(folder: Path, text: str) -> Path:
    path = folder / "page.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_it_extracts_a_small_page_with_count_and_removes_extra_strings(folders):
    source, output = folders
    page = write_page(source, small_page(ad="独家赞助"))
    target = output / "batch.json"

    extract(page, *small_args(), "--strip", "独家赞助", "-o", str(target))

    data = json.loads(target.read_text(encoding="utf-8"))
    titles = [case["title"] for case in data["cases"]]
    assert titles == ["北京市东城区甲社区", "上海市乙区", "浙江省杭州市丙区"]
    assert data["cases"][1]["body"] == ["近年来,上海市乙区坚持党建引领。"]
    assert "独家赞助" not in target.read_text(encoding="utf-8")


def test_it_takes_the_batch_name_from_the_option_when_the_notice_has_none(folders):
    source, output = folders
    page = write_page(source, small_page(notice="请为您支持的案例投票!"))
    target = output / "batch.json"

    with pytest.raises(CommandError, match="找不到批次名称"):
        extract(page, *small_args(), "-o", str(target))
    assert list(output.iterdir()) == []

    extract(page, *small_args(), "--name", "第二批初选入围案例", "-o", str(target))
    assert json.loads(target.read_text(encoding="utf-8"))["batch"]["name"] == "第二批初选入围案例"


def test_it_replaces_an_existing_file_in_one_step(folders):
    source, output = folders
    target = output / "batch.json"
    target.write_text("old", encoding="utf-8")

    extract(write_page(source, small_page()), *small_args(), "-o", str(target))

    assert json.loads(target.read_text(encoding="utf-8"))["batch"]["last_number"] == 33
    assert [path.name for path in output.iterdir()] == ["batch.json"]


def test_it_leaves_no_temporary_file_when_the_final_rename_fails(folders, monkeypatch):
    source, output = folders
    page = write_page(source, small_page())

    def refuse(*args: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("tools.management.commands.extract_cases.os.replace", refuse)
    with pytest.raises(CommandError, match="无法写入"):
        extract(page, *small_args(), "-o", str(output / "batch.json"))

    assert list(output.iterdir()) == []


ERRORS = {
    "missing file": (None, {}, "找不到文件"),
    "not utf-8": ("第二批".encode("gb18030"), {}, "不是 UTF-8 编码"),
    "no cases": (small_page(cases=[]), {}, "没有找到任何案例"),
    # chrome 1 and 3, notice 5, case 1 on 7-13, case 2 on 15-17: the stray line is line 19.
    "line between cases": (small_page(between="一段只出现一次的话。"), {}, "第 19 行没有重复出现"),
    "range mismatch": (small_page(), {"first": "1"}, "公告写的是第 031-033 号"),
    "wrong count": (small_page(), {"count": "4"}, "页面里有 3 个案例，应为 4 个"),
    "bad first": (small_page(), {"first": "0"}, "--first 0 不可用"),
    "other batch": (small_page(), {"batch": "3"}, "与 --batch 3 不符"),
}


@pytest.mark.parametrize(("content", "overrides", "message"), ERRORS.values(), ids=ERRORS.keys())
def test_it_refuses_a_page_it_cannot_read_and_writes_nothing(folders, content, overrides, message):
    source, output = folders
    page = source / "page.txt"
    if isinstance(content, bytes):
        page.write_bytes(content)
    elif content is not None:
        page.write_text(content, encoding="utf-8")

    with pytest.raises(CommandError, match=message):
        extract(page, *small_args(**overrides), "-o", str(output / "batch.json"))

    assert list(output.iterdir()) == []


def test_it_refuses_the_real_page_with_a_first_number_the_notice_contradicts(folders):
    _, output = folders

    with pytest.raises(CommandError, match=r"第 031-060 号.*--first 1"):
        extract(PAGE, "--batch", "2", "--first", "1", "-o", str(output / "batch.json"))
    assert list(output.iterdir()) == []
