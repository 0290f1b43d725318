"""A case's canvassing poster (拉票海报): a PNG drawn with Pillow, with a QR code to the
case page, for Moments and for a community notice board.

Pure drawing: `render(content)` turns plain values into PNG bytes, the same bytes for the
same values (no timestamp, no randomness), so `content.etag()` (a hash of every input,
the font's included) names the image, and a cache keyed by it needs no invalidation.
The font is Noto Sans CJK SC Bold (SIL OFL 1.1) subset to what posters draw (see
scripts/subset_poster_font.py); a character outside it is left out with a logged
warning, never drawn as a box.
"""

import hashlib
import io
import logging
from dataclasses import astuple, dataclass
from functools import cache
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageFont
from qrcode.constants import ERROR_CORRECT_M

logger = logging.getLogger(__name__)

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT_FILE = FONT_DIR / "NotoSansCJKsc-Bold-subset.otf"
COVERAGE_FILE = FONT_DIR / "NotoSansCJKsc-Bold-subset.chars.txt"
# Bump when the layout changes: the ETag (and every cache key) changes with it.
LAYOUT_VERSION = "2"

# A5's proportions (148 × 210 mm) at 1240 px wide: about 213 dpi when printed at A5,
# and a phone shows it at its screen width.
WIDTH, HEIGHT = 1240, 1754
MARGIN = 90
RED = (155, 28, 28)  # the site's theme colour (#9b1c1c)
INK = (31, 35, 40)
GREY = (87, 96, 106)
WHITE = (255, 255, 255)
PAPER = (255, 250, 244)
QR_SIZE = 600

CALL_TO_VOTE = "微信扫一扫，或长按识别二维码"
CALL_TO_VOTE_2 = "阅读案例，为它投上一票"
LABEL = "候选案例"
FOOTER = "严禁刷票，一经发现即取消推选资格并予以公告"
# Every character the layout itself draws (the font subset must cover them).
FIXED_TEXT = CALL_TO_VOTE + CALL_TO_VOTE_2 + LABEL + FOOTER + "0123456789·…号"


@dataclass(frozen=True)
class PosterContent:
    campaign: str
    number: str  # "031"
    title: str
    province: str
    url: str  # the case page's absolute URL, from the site's public origin

    def digest(self) -> str:
        """A hash of everything the image is drawn from: layout, font and content."""
        parts = (LAYOUT_VERSION, font_version(), *astuple(self))
        return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]

    def etag(self) -> str:
        """A strong validator (the same bytes whenever the digest is the same)."""
        return f'"{self.digest()}"'


@cache
def font_version() -> str:
    return hashlib.sha256(FONT_FILE.read_bytes()).hexdigest()[:16]


@cache
def covered_characters() -> frozenset[str]:
    return frozenset(COVERAGE_FILE.read_text(encoding="utf-8").rstrip("\n"))


def missing_characters(text: str) -> list[str]:
    """The characters of `text` the poster font cannot draw, in order, once each."""
    covered = covered_characters()
    return list(dict.fromkeys(ch for ch in text if ch not in covered and not ch.isspace()))


def drawable(text: str, what: str) -> str:
    """`text` without the characters the font lacks (each would be a box), logged."""
    if missing := missing_characters(text):
        logger.warning(
            "poster: %s has characters the poster font lacks, left out: %s "
            "(scripts/subset_poster_font.py adds them)",
            what,
            " ".join(f"{ch} U+{ord(ch):04X}" for ch in missing),
        )
        covered = covered_characters()
        text = "".join(ch for ch in text if ch in covered or ch.isspace())
    return text


@cache
def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_FILE), size)


def wrap(text: str, face: ImageFont.FreeTypeFont, width: int, max_lines: int) -> list[str]:
    """Break `text` into lines no wider than `width` (Chinese breaks between any two
    characters); past `max_lines`, the last line ends with an ellipsis."""
    lines: list[str] = []
    line = ""
    for ch in text.strip():
        if face.getlength(line + ch) <= width:
            line += ch
            continue
        lines.append(line)
        line = ch.lstrip()
    if line:
        lines.append(line)
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and face.getlength(last + "…") > width:
            last = last[:-1]
        lines = lines[: max_lines - 1] + [last + "…"]
    return lines


def balanced(text: str, face: ImageFont.FreeTypeFont, width: int, max_lines: int) -> list[str]:
    """As `wrap`, with the lines as even as they can be (no lone last character): the
    narrowest width that needs no more lines than the widest."""
    lines = wrap(text, face, width, max_lines)
    if len(lines) < 2 or len(lines) > max_lines or lines[-1].endswith("…"):
        return lines
    low, high = width // len(lines), width
    while low < high:
        middle = (low + high) // 2
        if len(wrap(text, face, middle, max_lines + 1)) <= len(lines):
            high = middle
        else:
            low = middle + 1
    return wrap(text, face, high, max_lines)


def centred(draw: ImageDraw.ImageDraw, y: int, text: str, face, fill) -> int:
    """Draw one centred line with its top at `y`; return the y below it."""
    left, top, right, bottom = draw.textbbox((0, 0), text, font=face)
    draw.text(((WIDTH - (right - left)) / 2 - left, y - top), text, font=face, fill=fill)
    return y + (bottom - top)


def centred_lines(draw, y: int, lines: list[str], face, fill, leading: int) -> int:
    line_height = face.size + leading
    for line in lines:
        centred(draw, y, line, face, fill)
        y += line_height
    return y - leading


def qr_image(url: str, size: int) -> Image.Image:
    """The QR code as a `size`-pixel square with whole-pixel modules (crisp in print)."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4)
    code.add_data(url)
    code.make(fit=True)
    matrix = code.get_matrix()  # the quiet zone included
    box = size // len(matrix)
    image = Image.new("1", (len(matrix), len(matrix)), 1)
    image.putdata([0 if dark else 1 for row in matrix for dark in row])
    image = image.resize((box * len(matrix),) * 2, Image.Resampling.NEAREST)
    framed = Image.new("RGB", (size, size), WHITE)
    offset = (size - image.width) // 2
    framed.paste(image.convert("RGB"), (offset, offset))
    return framed


def render(content: PosterContent) -> bytes:
    """The poster as PNG bytes: deterministic for the same `content` and font."""
    what = f"case {content.number}"
    poster = Image.new("RGB", (WIDTH, HEIGHT), PAPER)
    draw = ImageDraw.Draw(poster)
    text_width = WIDTH - 2 * MARGIN

    # The campaign's name on the theme colour.
    campaign = balanced(drawable(content.campaign, "the campaign name"), font(50), text_width, 2)
    band = 70 + len(campaign) * 68 + 50
    draw.rectangle((0, 0, WIDTH, band), fill=RED)
    centred_lines(draw, 70, campaign, font(50), WHITE, leading=18)

    y = band + 70
    y = centred(draw, y, f"{LABEL} {content.number} 号", font(48), GREY) + 40
    title = balanced(drawable(content.title, what), font(76), text_width, 3)
    y = centred_lines(draw, y, title, font(76), INK, leading=22) + 36
    if province := drawable(content.province, what):
        y = centred(draw, y, f"· {province} ·", font(44), RED) + 10

    # The QR code, centred in the space left above the call to vote and the footer.
    footer_top = HEIGHT - 240
    qr_top = max(y + 50, (y + footer_top - QR_SIZE) // 2)
    poster.paste(qr_image(content.url, QR_SIZE), ((WIDTH - QR_SIZE) // 2, qr_top))
    draw.rectangle(
        ((WIDTH - QR_SIZE) // 2 - 4, qr_top - 4, (WIDTH + QR_SIZE) // 2 + 3, qr_top + QR_SIZE + 3),
        outline=RED,
        width=4,
    )

    y = centred(draw, footer_top, CALL_TO_VOTE, font(46), INK) + 24
    centred(draw, y, CALL_TO_VOTE_2, font(46), RED)
    centred(draw, HEIGHT - 80, FOOTER, font(30), GREY)

    # A few flat colours and anti-aliased text: 32 palette colours look the same and take
    # 48 kB instead of 115 kB (on a phone's data plan), and encode faster.
    palette = poster.quantize(colors=32, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    palette.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()
