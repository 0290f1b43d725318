"""Make the poster font: Noto Sans CJK SC Bold (SIL OFL 1.1), subset to what posters draw.

A developer's tool, run by hand when the characters the posters need grow (a new batch
whose titles use a character outside GB2312 level 1, see `load_cases`'s warning):

    apt-get install -y fonts-noto-cjk          # the full font, about 20 MB per weight
    .venv/bin/python scripts/subset_poster_font.py [/path/to/NotoSansCJK-Bold.ttc]

It keeps: printable ASCII, common CJK punctuation and full-width forms, the 3,755
characters of GB2312 level 1 (the common ones: future batches render), every province
name, the posters' fixed text (cases.poster.FIXED_TEXT) and every character of the
titles, provinces and campaign name in fixtures/*.json. It writes cases/fonts/
NotoSansCJKsc-Bold-subset.otf and, beside it, the characters it covers (the poster leaves
out, with a logged warning, any character that is not in that list rather than draw a box).
"""

import json
import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cases.poster import COVERAGE_FILE, FIXED_TEXT, FONT_FILE  # noqa: E402
from tools.extraction import PROVINCES  # noqa: E402

SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")
FACE = "Noto Sans CJK SC Bold"


def gb2312_level1() -> str:
    """Rows 16-55 of GB2312 (bytes 0xB0-0xD7): the 3,755 most common characters."""
    characters = []
    for row in range(0xB0, 0xD8):
        for cell in range(0xA1, 0xFF):
            try:
                characters.append(bytes([row, cell]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return "".join(characters)


def fixture_text() -> str:
    text = []
    for path in sorted((REPO / "fixtures").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        text.append(data.get("batch", {}).get("name", ""))
        for case in data.get("cases", []):
            text += [case.get("title", ""), case.get("province", "")]
    return "".join(text)


def wanted() -> str:
    ascii_printable = "".join(chr(code) for code in range(0x20, 0x7F))
    punctuation = "".join(chr(code) for code in range(0x3000, 0x3020))  # 、。〈〉《》「」【】…
    fullwidth = "".join(chr(code) for code in range(0xFF01, 0xFF5F))  # ！（），：；？
    general = "·—–‘’“”…‧•※№℃"
    provinces = "".join(PROVINCES) + "".join(PROVINCES.values())
    campaign = "全国城乡社区高质量发展典型案例候选展示投票"
    text = (
        ascii_printable
        + punctuation
        + fullwidth
        + general
        + gb2312_level1()
        + provinces
        + campaign
        + FIXED_TEXT
        + fixture_text()
    )
    return "".join(sorted({ch for ch in text if ch.isprintable()}))


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE
    collection = TTCollection(str(source))
    font = next(face for face in collection.fonts if face["name"].getDebugName(4) == FACE)
    options = subset.Options()
    options.layout_features = ["kern", "palt", "vert"]
    options.name_IDs = ["*"]  # keep the copyright and licence records
    options.notdef_outline = True
    options.hinting = False  # the poster is drawn large; hints only add bytes
    options.desubroutinize = False
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=wanted())
    subsetter.subset(font)
    font.save(str(FONT_FILE))
    covered = sorted(chr(code) for code in font.getBestCmap())
    COVERAGE_FILE.write_text("".join(covered) + "\n", encoding="utf-8")
    print(
        f"{FONT_FILE.relative_to(REPO)}: {FONT_FILE.stat().st_size:,} bytes, {len(covered)} characters"
    )


if __name__ == "__main__":
    main()
