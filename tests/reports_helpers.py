"""Images and submissions for the reports tests (unit, fuzz and browser tiers)."""

import io
import re
import struct
import zlib

from PIL import Image

DAY = "2026-12-03"  # the day before VOTING_NOW (tests/conftest.py)


def png_bytes(width: int = 390, height: int = 844, color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def jpeg_with_gps(width: int = 640, height: int = 480) -> bytes:
    """A phone photo's shape: EXIF with the camera and a GPS position (Beijing)."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "PhoneModel"  # Model
    exif[0x8825] = {  # GPSInfo
        1: "N",
        2: (39.0, 54.0, 27.0),
        3: "E",
        4: (116.0, 23.0, 50.0),
    }
    out = io.BytesIO()
    Image.new("RGB", (width, height), (20, 120, 200)).save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def webp_bytes(width: int = 300, height: int = 200) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (0, 128, 0, 128)).save(out, "WEBP")
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny file whose header promises a huge image (all zeros compress to nothing)."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(min(height, 64)))
    data += compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", data)
        + _chunk(b"IEND", b"")
    )


def form_token(page) -> str:
    return re.search(r'name="token" value="([^"]+)"', page.content.decode()).group(1)


def report_data(**overrides) -> dict:
    data = {
        "kind": "impersonation",
        "case": "",
        "description": "有人自称组委会工作人员打电话，说付 3000 元可以保证入选。",
        "happened_on": DAY,
        "contact_name": "王女士",
        "contact_details": "13800000000",
        "website": "",
    }
    data.update(overrides)
    return data
