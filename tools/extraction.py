"""Turning a scraped announcement page into one batch of cases, ready for `load_cases`.

The page we have is not the organisers' original: the scraper's host injected advertising strings
into the text, printed every case's block of paragraphs twice in a row, and wrapped it all in its
own page chrome (a breadcrumb, an ad-prefixed headline, a footer). This module undoes exactly that
and nothing more: each paragraph is kept once, word for word as published (typos, ASCII commas
and all), because the cases are the applicants' own text and the vote is about that text.

Everything here is a function over strings, with no Django and no files, so every rule can be
tested on a few characters. `extract_batch` is the whole job; `ExtractionError` says, in words an
editor can act on, why a page cannot be read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

# The strings the scraper's host injects into the page ("bd半岛体育", "bd半岛官网").
AD_PATTERN = re.compile(r"bd半岛(?:体育|官网)")
# The batch's name as the notice announces it, e.g. "第二批初选入围案例".
BATCH_NAME_PATTERN = re.compile(r"第[一二三四五六七八九十\d]+批初选入围案例")
# The case numbers the notice announces, e.g. "(第031-060号)".
NUMBER_RANGE_PATTERN = re.compile(r"[(（]第(\d+)\s*[-－–—~～至]\s*(\d+)号[)）]")
# A case is a few paragraphs; a longer "repeat" would more likely be a coincidence than a case.
MAX_CASE_PARAGRAPHS = 8
# How much of a line an error or the report quotes: enough to find it in the file.
QUOTE_LENGTH = 30

CHINESE_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}

# --- Titles: the place a case is about, as its first sentence names it ---------------------------

# The 34 province-level regions: official name and the short form the applicants also write.
PROVINCES: dict[str, str] = {
    "北京市": "北京",
    "天津市": "天津",
    "上海市": "上海",
    "重庆市": "重庆",
    "河北省": "河北",
    "山西省": "山西",
    "辽宁省": "辽宁",
    "吉林省": "吉林",
    "黑龙江省": "黑龙江",
    "江苏省": "江苏",
    "浙江省": "浙江",
    "安徽省": "安徽",
    "福建省": "福建",
    "江西省": "江西",
    "山东省": "山东",
    "河南省": "河南",
    "湖北省": "湖北",
    "湖南省": "湖南",
    "广东省": "广东",
    "海南省": "海南",
    "四川省": "四川",
    "贵州省": "贵州",
    "云南省": "云南",
    "陕西省": "陕西",
    "甘肃省": "甘肃",
    "青海省": "青海",
    "台湾省": "台湾",
    "内蒙古自治区": "内蒙古",
    "广西壮族自治区": "广西",
    "西藏自治区": "西藏",
    "宁夏回族自治区": "宁夏",
    "新疆维吾尔自治区": "新疆",
    "香港特别行政区": "香港",
    "澳门特别行政区": "澳门",
}
# Every way a province is written, longest first, so "北京市" wins over "北京".
PROVINCE_FORMS: tuple[tuple[str, str], ...] = tuple(
    sorted(
        [(full, full) for full in PROVINCES] + [(short, full) for full, short in PROVINCES.items()],
        key=lambda form: -len(form[0]),
    )
)
PROVINCE_BY_FORM = dict(PROVINCE_FORMS)
PROVINCE_ANYWHERE = re.compile("|".join(re.escape(form) for form, _ in PROVINCE_FORMS))
PROVINCE_LEVEL = 1
# Administrative suffixes and the levels they can stand for (2 prefecture, 3 county, 4 township,
# 5 community or village, 6 residential compound). A 市 is a prefecture-level or a county-level
# city, which is how "宁德市福安市" is a valid chain. Two-character suffixes come first.
SUFFIX_LEVELS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("地区", (2,)),
    ("街道", (4,)),
    ("社区", (5,)),
    ("小区", (6,)),
    ("市", (2, 3)),
    ("州", (2,)),
    ("盟", (2,)),
    ("区", (3,)),
    ("县", (3,)),
    ("旗", (3,)),
    ("镇", (4,)),
    ("乡", (4,)),
    ("村", (5,)),
)
MAX_NAME_LENGTH = 6
CJK_NAME = re.compile(rf"[\u4e00-\u9fff]{{1,{MAX_NAME_LENGTH}}}")
# Words that begin the predicate, never part of a place name. Without them "绿园区结合辖区" would
# read as one district after "长春市", and "是社区" as a community. A predicate word may not start
# a name; a two-character one may not appear in a name at all, or a name could swallow the end of
# the chain and the start of the predicate ("镇江市润" + "州", then "区适应城市" + "社区").
PREDICATE_WORDS = tuple(
    "结合 聚焦 坚持 适应 充分 积极 探索 搭建 成立 位于 运用 作为 核心 发布 共有 "
    "通过 围绕 立足 针对 实行 实施 推动 推行 构建 打造 建立 形成 开展 着力 "
    "以 在 是 将 的".split()
)
INNER_PREDICATE_WORDS = tuple(word for word in PREDICATE_WORDS if len(word) > 1)
# "陈家桥社区的沁春园小区": a compound may be named through its community with a 的.
COMPOUND_JOINER = "的"
SENTENCE_BREAK = re.compile(r"[。!?;！？；]")
CLAUSE_BREAK = re.compile(r"[,，;；、:：]")
# Words before the subject that only set the time: "近年来,江苏省镇江市润州区……".
LEADING_WORDS = ("近年来",)
# "作为四川省成都市核心城区之一,锦江区……": the clause places the subject, it is not the subject.
CONTEXT_MARKER = "作为"
QUOTED_NAME = re.compile(r"“([^”]+)”|《([^》]+)》")


class ExtractionError(ValueError):
    """The page is not in the shape this module understands; the message says where."""


@dataclass(frozen=True)
class Place:
    """One link of an administrative chain, as written ("顺义区"), with its level."""

    text: str
    level: int


@dataclass(frozen=True)
class Chain:
    """The administrative chain at the start of a clause.

    `length` counts the characters of the clause the chain covers, joiners included, which is
    what competing parses are compared on. `province` is the official name of the province in
    the chain, or "" when the chain has none.
    """

    parts: tuple[Place, ...] = ()
    length: int = 0
    province: str = ""

    @property
    def title(self) -> str:
        return "".join(part.text for part in self.parts)

    def within(self, context: Chain) -> Chain:
        """The chain placed under a context clause's chain ("福建省宁德市" + "福安市罗江街道")."""
        return Chain(context.parts + self.parts, self.length, context.province)


def quote(text: str) -> str:
    """A line shortened for a message: long paragraphs would bury the point."""
    return text if len(text) <= QUOTE_LENGTH else text[:QUOTE_LENGTH] + "……"


def could_be_name(name: str) -> bool:
    """A candidate name that opens with, or runs into, a predicate word is not a place's name."""
    return not name.startswith(PREDICATE_WORDS) and not any(
        word in name for word in INNER_PREDICATE_WORDS
    )


def reads_whole_suffix(name: str, suffix: str) -> bool:
    """A suffix is read whole: "天立社区" is a 社区 named 天立, never a 区 named 天立社."""
    word = name + suffix
    return not any(
        len(longer) > len(suffix) and word.endswith(longer) and len(word) > len(longer)
        for longer, _ in SUFFIX_LEVELS
    )


def next_places(
    text: str, start: int, level: int, previous: Place | None
) -> Iterator[tuple[Place, int]]:
    """Every place that can follow at `start` with a level below `level`, and where it ends.

    All readings are offered, not only the first: "宁波镇海区" could begin with a 宁波镇, and only
    the rest of the chain shows that it is the 镇海区 of 宁波. Longer names come first, so that
    between readings that are otherwise equal "泸州市" is preferred to "泸州" + "市……".
    """
    if (
        previous is not None
        and previous.text.endswith("社区")
        and text.startswith(COMPOUND_JOINER, start)
    ):
        for place, end in next_places(text, start + len(COMPOUND_JOINER), level, None):
            if place.text.endswith("小区"):
                yield place, end
    name_match = CJK_NAME.match(text, start)
    if name_match is None:
        return
    for name_length in range(len(name_match.group()), 0, -1):
        name = text[start : start + name_length]
        if not could_be_name(name):
            continue
        suffix_start = start + name_length
        for suffix, levels in SUFFIX_LEVELS:
            if not text.startswith(suffix, suffix_start) or not reads_whole_suffix(name, suffix):
                continue
            for suffix_level in levels:
                if suffix_level > level:
                    yield Place(name + suffix, suffix_level), suffix_start + len(suffix)


def best_places(
    text: str, start: int, level: int, previous: Place | None
) -> tuple[tuple[Place, ...], int]:
    """The places from `start` on that cover the most characters (then: the most places).

    Backtracking over all readings is cheap here: names are at most six characters and a chain
    has at most five levels below the province.
    """
    best: tuple[tuple[Place, ...], int] = ((), 0)
    for place, end in next_places(text, start, level, previous):
        rest, covered = best_places(text, end, place.level, place)
        candidate = ((place, *rest), end - start + covered)
        if (candidate[1], len(candidate[0])) > (best[1], len(best[0])):
            best = candidate
    return best


def parse_chain(text: str) -> Chain:
    """The administrative chain at the very start of `text`, or an empty chain.

    A province is optional and is tried in every written form, then the chain without one; the
    reading that covers the most characters wins, so "北京市顺义区" keeps 北京市 as a province.
    """
    best = Chain()
    starts = [(form, full) for form, full in PROVINCE_FORMS if text.startswith(form)]
    for form, full in [*starts, ("", "")]:
        places, covered = best_places(text, len(form), PROVINCE_LEVEL, None)
        parts = ((Place(form, PROVINCE_LEVEL),) if form else ()) + places
        candidate = Chain(parts, len(form) + covered, full)
        if (candidate.length, len(candidate.parts)) > (best.length, len(best.parts)):
            best = candidate
    return best


def sentences(paragraph: str) -> list[str]:
    """Sentences end at 。!?; (ASCII or full width): the page uses both."""
    return [sentence for sentence in SENTENCE_BREAK.split(paragraph) if sentence]


def clauses(sentence: str) -> list[str]:
    """The clauses of a sentence, without the leading time words that would hide a subject."""
    found = []
    for clause in CLAUSE_BREAK.split(sentence):
        for word in LEADING_WORDS:
            clause = clause.removeprefix(word)
        if clause:
            found.append(clause)
    return found


def is_subject(chain: Chain) -> bool:
    """Two places make a subject ("湖北省利川市"); a lone province is only mentioned in passing."""
    return len(chain.parts) >= 2


def find_subject(paragraph: str) -> Chain | None:
    """The chain naming what the paragraph is about, sentence by sentence, clause by clause.

    A "作为……" clause only places the subject: its chain is remembered and put in front of the
    next chain that names no province of its own. A sentence without a subject (a general
    statement opening the case) passes the search on to the next sentence.
    """
    context: Chain | None = None
    for sentence in sentences(paragraph):
        for clause in clauses(sentence):
            if clause.startswith(CONTEXT_MARKER):
                chain = parse_chain(clause.removeprefix(CONTEXT_MARKER))
                if chain.parts:
                    context = chain
                continue
            chain = parse_chain(clause)
            if not chain.parts:
                continue
            if context is not None and not chain.province:
                chain = chain.within(context)
            if is_subject(chain):
                return chain
    return None


def quoted_title(paragraph: str) -> str | None:
    """A case about a programme opens with its quoted name: “社区伙伴计划”于2013年……."""
    match = QUOTED_NAME.match(paragraph)
    if match is None:
        return None
    return match.group(1) or match.group(2)


def first_province(texts: Sequence[str]) -> str:
    """The official name of the first province named anywhere in `texts`, or ""."""
    for text in texts:
        match = PROVINCE_ANYWHERE.search(text)
        if match:
            return PROVINCE_BY_FORM[match.group()]
    return ""


def case_title_and_province(body: Sequence[str]) -> tuple[str, str] | None:
    """What a case is about and in which province, from its paragraphs; None if not found.

    The province is the one in the title's chain; a title without one (a programme) takes the
    first province the case mentions, and stays blank if there is none.
    """
    title = quoted_title(body[0])
    province = ""
    if title is None:
        chain = find_subject(body[0])
        if chain is None:
            return None
        title, province = chain.title, chain.province
    return title, province or first_province(body)


# --- The page: lines, duplicated blocks, chrome -----------------------------------------------


@dataclass(frozen=True)
class SourceLine:
    """A non-empty line of the page after ad removal; `number` is its 1-based line in the file."""

    number: int
    text: str
    indented: bool


@dataclass(frozen=True)
class CleanPage:
    lines: tuple[SourceLine, ...]
    ads_removed: tuple[int, ...]  # the line number of every ad string removed


@dataclass(frozen=True)
class Layout:
    """The page split into its parts; each case holds the first copy of its paragraphs."""

    chrome: tuple[SourceLine, ...]
    notice: tuple[SourceLine, ...]
    cases: tuple[tuple[SourceLine, ...], ...]
    footer: tuple[SourceLine, ...]


def ad_pattern(extra: Sequence[str] = ()) -> re.Pattern[str]:
    """AD_PATTERN plus the editor's own strings, taken literally, longest first."""
    if any(not text.strip() for text in extra):
        raise ExtractionError("--strip 的内容不能为空。")
    literals = [re.escape(text) for text in sorted(set(extra), key=len, reverse=True)]
    return re.compile("|".join([AD_PATTERN.pattern, *literals]))


def clean_lines(text: str, ads: re.Pattern[str]) -> CleanPage:
    """Remove the injected strings, then keep the non-empty lines, trimmed, with their numbers.

    Whether a line is indented is read before trimming: it is what tells the page's own chrome
    (flush left) from the published paragraphs (indented).
    """
    lines = []
    ads_removed: list[int] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        cleaned, count = ads.subn("", raw)
        ads_removed.extend([number] * count)
        if cleaned.strip():
            lines.append(SourceLine(number, cleaned.strip(), raw[:1].isspace()))
    return CleanPage(tuple(lines), tuple(ads_removed))


def repeat_length(texts: Sequence[str], start: int) -> int | None:
    """The smallest k with texts[start:start+k] == texts[start+k:start+2k]: one case printed twice."""
    for k in range(1, MAX_CASE_PARAGRAPHS + 1):
        if start + 2 * k > len(texts):
            break
        if texts[start : start + k] == texts[start + k : start + 2 * k]:
            return k
    return None


def split_layout(lines: Sequence[SourceLine]) -> Layout:
    """The page's chrome, notice, cases (each printed twice) and footer, in that order.

    Before the first repeated block come the chrome (flush left) and the notice (indented); after
    the last one, the footer. A line that is not repeated between two cases means the page is not
    in the shape we know (a paragraph edited in one copy only, a missing copy): guessing would
    publish the wrong text, so it is an error.
    """
    texts = [line.text for line in lines]
    before: list[SourceLine] = []
    cases: list[tuple[SourceLine, ...]] = []
    pending: list[SourceLine] = []  # unrepeated lines since the last case
    index = 0
    while index < len(lines):
        k = repeat_length(texts, index)
        if k is None:
            (pending if cases else before).append(lines[index])
            index += 1
            continue
        if pending:
            stray = pending[0]
            raise ExtractionError(
                f"第 {stray.number} 行没有重复出现，却夹在两个案例之间：「{quote(stray.text)}」。"
                "页面格式与预期不符（也许两份副本里这段文字不同），没有输出任何内容。"
            )
        cases.append(tuple(lines[index : index + k]))
        index += 2 * k
    if not cases:
        raise ExtractionError("页面里没有找到任何案例（每个案例的段落应当连续出现两次）。")
    return Layout(
        chrome=tuple(line for line in before if not line.indented),
        notice=tuple(line for line in before if line.indented),
        cases=tuple(cases),
        footer=tuple(pending),
    )


# --- The batch -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExtractedCase:
    number: int
    title: str
    province: str
    body: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        return {
            "number": self.number,
            "title": self.title,
            "province": self.province,
            "body": list(self.body),
        }


@dataclass(frozen=True)
class Extraction:
    """The batch, and what was thrown away to get it, for the report."""

    batch_number: int
    name: str
    notice: tuple[str, ...]
    cases: tuple[ExtractedCase, ...]
    chrome: tuple[SourceLine, ...] = ()
    footer: tuple[SourceLine, ...] = ()
    ads_removed: tuple[int, ...] = ()

    @property
    def first_number(self) -> int:
        return self.cases[0].number

    @property
    def last_number(self) -> int:
        return self.cases[-1].number

    def as_json(self) -> dict[str, object]:
        """Exactly the shape `load_cases` reads."""
        return {
            "batch": {
                "number": self.batch_number,
                "name": self.name,
                "notice": list(self.notice),
                "first_number": self.first_number,
                "last_number": self.last_number,
            },
            "cases": [case.as_json() for case in self.cases],
        }


def render_json(extraction: Extraction) -> str:
    """The file as committed: UTF-8 text, readable Chinese, a final newline for clean diffs."""
    return json.dumps(extraction.as_json(), ensure_ascii=False, indent=2) + "\n"


def numeral_value(numeral: str) -> int | None:
    """The batch's numeral as a number: "二" → 2, "十二" → 12, "12" → 12; None if unreadable."""
    if numeral.isdigit():
        return int(numeral)
    tens, ten, units = numeral.partition("十")
    if not ten:
        return CHINESE_DIGITS.get(numeral)
    tens_value = CHINESE_DIGITS.get(tens) if tens else 1
    units_value = CHINESE_DIGITS.get(units) if units else 0
    if tens_value is None or units_value is None:
        return None
    return tens_value * 10 + units_value


def batch_name(notice: Sequence[str], batch_number: int) -> str:
    """The name as the notice announces it; it must be the batch we were told to extract."""
    match = BATCH_NAME_PATTERN.search("\n".join(notice))
    if match is None:
        raise ExtractionError(
            "公告里找不到批次名称（形如“第二批初选入围案例”），请用 --name 给出。"
        )
    name = match.group()
    announced = numeral_value(name.removeprefix("第").split("批")[0])
    if announced is not None and announced != batch_number:
        raise ExtractionError(f"公告说这是“{name}”，与 --batch {batch_number} 不符。")
    return name


def check_numbering(batch_number: int, first: int, count: int, max_number: int) -> None:
    """Numbers are shown with three digits and start at 1; anything else cannot be loaded."""
    if batch_number < 1:
        raise ExtractionError(f"--batch 必须是正整数，而不是 {batch_number}。")
    if count < 1:
        raise ExtractionError(f"--count 必须至少为 1，而不是 {count}。")
    if first < 1 or first + count - 1 > max_number:
        raise ExtractionError(
            f"--first {first} 不可用：{count} 个案例的编号必须在 1 到 {max_number} 之间。"
        )


def check_announced_range(notice: Sequence[str], first: int, last: int) -> None:
    """If the notice says which numbers this batch has, the numbering must say the same."""
    match = NUMBER_RANGE_PATTERN.search("\n".join(notice))
    if match is None:
        return
    announced = (int(match.group(1)), int(match.group(2)))
    if announced != (first, last):
        raise ExtractionError(
            f"公告写的是第 {match.group(1)}-{match.group(2)} 号，"
            f"而编号会是 {first:03d}-{last:03d}（--first {first}）。请核对 --first。"
        )


def build_case(number: int, lines: Sequence[SourceLine]) -> ExtractedCase:
    """One case; a case whose subject cannot be found stops the run rather than get no title."""
    body = tuple(line.text for line in lines)
    found = case_title_and_province(body)
    if found is None:
        raise ExtractionError(
            f"案例 {number:03d}（第 {lines[0].number} 行）：第一段里找不到所介绍的社区或单位"
            f"「{quote(body[0])}」。"
        )
    title, province = found
    return ExtractedCase(number, title, province, body)


def extract_batch(
    text: str,
    *,
    batch_number: int,
    first: int,
    count: int,
    max_number: int,
    name: str | None = None,
    strip: Sequence[str] = (),
) -> Extraction:
    """The whole job: from the page's text to the batch, or an ExtractionError saying why not."""
    check_numbering(batch_number, first, count, max_number)
    page = clean_lines(text, ad_pattern(strip))
    layout = split_layout(page.lines)
    if len(layout.cases) != count:
        raise ExtractionError(
            f"页面里有 {len(layout.cases)} 个案例，应为 {count} 个"
            f"（最后一个从第 {layout.cases[-1][0].number} 行开始）。"
        )
    notice = tuple(line.text for line in layout.notice)
    check_announced_range(notice, first, first + count - 1)
    cases = tuple(build_case(first + index, lines) for index, lines in enumerate(layout.cases))
    return Extraction(
        batch_number=batch_number,
        name=name or batch_name(notice, batch_number),
        notice=notice,
        cases=cases,
        chrome=layout.chrome,
        footer=layout.footer,
        ads_removed=page.ads_removed,
    )
