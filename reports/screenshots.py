"""Reporters' screenshots are untrusted files: check them, then keep only pixels.

A file is accepted when its first bytes say JPEG, PNG or WebP, Pillow (restricted to
those three decoders) opens and verifies it within the size and pixel limits, and it
carries nothing else a browser or viewer could run: no data after the image's end, no
HTML, script or PDF markers (a polyglot). It is then decoded and encoded again, in its
own format, from the pixels alone: EXIF (with GPS), XMP, ICC profiles and comments are
gone. Pillow's decompression-bomb warning is an error here.
"""

import io
import re
import warnings
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

from casevote.errors import Refusal

FORMATS = {  # Pillow's name: (content type, extension)
    "JPEG": ("image/jpeg", ".jpg"),
    "PNG": ("image/png", ".png"),
    "WEBP": ("image/webp", ".webp"),
}
LONGEST_SIDE = 4096  # larger photos are scaled down when re-encoded
# What a browser would sniff as markup or a PDF reader would open, anywhere in the file.
FOREIGN_CONTENT = re.compile(rb"<(?:!doctype|html|script|svg|iframe|body|\?php)|%PDF-", re.I)
PNG_END = b"IEND\xaeB`\x82"
JPEG_END = b"\xff\xd9"

NOT_AN_IMAGE = "“{name}”不是 JPEG、PNG 或 WebP 图片，请上传手机截图或照片。"
DAMAGED = "“{name}”无法作为图片打开（文件可能已损坏），请重新截图后上传。"
TOO_LARGE = "“{name}”的尺寸{size}过大，不像截图或照片，不能接收。"
FOREIGN = "“{name}”除了图片还含有其他内容，出于安全原因不能接收，请重新截图后上传。"


class ScreenshotRefused(Refusal):
    """An upload that is not (only) an acceptable image; the message names it."""


@dataclass(frozen=True)
class CleanImage:
    content: bytes
    content_type: str
    extension: str
    width: int
    height: int


def sniff(head: bytes) -> str | None:
    """The format the first bytes announce, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def has_trailing_data(data: bytes, fmt: str) -> bool:
    """Bytes after the image's end marker: where a polyglot keeps its second file. A file
    with no end marker at all is left to Pillow, which refuses it as damaged."""
    if fmt == "PNG":
        end = data.rfind(PNG_END)
        return end >= 0 and data[end + len(PNG_END) :].strip(b"\x00") != b""
    if fmt == "JPEG":
        return JPEG_END in data and not data.rstrip(b"\x00").endswith(JPEG_END)
    # WebP: RIFF's own length must cover the file (one pad byte allowed).
    declared = int.from_bytes(data[4:8], "little") + 8
    return len(data) > declared + 1


def check_size(name: str, size: int) -> None:
    limit = settings.CASEVOTE_REPORT_MAX_FILE_BYTES
    if size > limit:
        raise ScreenshotRefused(
            f"“{name}”有 {size / 1024 / 1024:.1f} MB，超过每张 {limit // (1024 * 1024)} MB 的上限。"
            "请截图后再上传，或压缩后上传。"
        )
    if size == 0:
        raise ScreenshotRefused(f"“{name}”是空文件。")


def clean_screenshot(upload, name: str) -> CleanImage:
    """The upload re-encoded from its pixels, or ScreenshotRefused saying why not."""
    check_size(name, upload.size)
    upload.seek(0)
    data = upload.read(settings.CASEVOTE_REPORT_MAX_FILE_BYTES + 1)
    check_size(name, len(data))
    fmt = sniff(data[:16])
    if fmt is None:
        raise ScreenshotRefused(NOT_AN_IMAGE.format(name=name))
    if FOREIGN_CONTENT.search(data) or has_trailing_data(data, fmt):
        raise ScreenshotRefused(FOREIGN.format(name=name))
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return _reencode(data, fmt, name)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ScreenshotRefused(TOO_LARGE.format(name=name, size="")) from None
        except (
            UnidentifiedImageError,
            OSError,
            SyntaxError,
            ValueError,
            EOFError,
            MemoryError,
        ):
            raise ScreenshotRefused(DAMAGED.format(name=name)) from None


def check_pixels(image: Image.Image, name: str) -> None:
    width, height = image.size
    if width * height > settings.CASEVOTE_REPORT_MAX_PIXELS or not width or not height:
        raise ScreenshotRefused(TOO_LARGE.format(name=name, size=f"（{width}×{height} 像素）"))


def _reencode(data: bytes, fmt: str, name: str) -> CleanImage:
    with Image.open(io.BytesIO(data), formats=[fmt]) as probe:
        check_pixels(probe, name)  # from the header, before any pixel is decoded
        probe.verify()
    # verify() leaves the image unusable: open it again to decode it.
    with Image.open(io.BytesIO(data), formats=[fmt]) as image:
        check_pixels(image, name)
        image.seek(0)  # an animated PNG or WebP keeps its first frame
        image.load()
        pixels = ImageOps.exif_transpose(image)  # keep the orientation, not the EXIF
        pixels.thumbnail((LONGEST_SIDE, LONGEST_SIDE))
        pixels = _plain_mode(pixels, fmt)
        out = io.BytesIO()
        if fmt == "JPEG":
            pixels.save(out, "JPEG", quality=85)
        elif fmt == "PNG":
            pixels.save(out, "PNG", compress_level=6)  # optimize=True took seconds
        else:
            pixels.save(out, "WEBP", quality=85)
    content_type, extension = FORMATS[fmt]
    return CleanImage(out.getvalue(), content_type, extension, pixels.width, pixels.height)


def _plain_mode(image: Image.Image, fmt: str) -> Image.Image:
    """A mode the format writes without carrying anything over: RGB, or RGBA with alpha."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if fmt == "JPEG" or not has_alpha:
        return image.convert("RGB")
    return image.convert("RGBA")
