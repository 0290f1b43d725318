"""QR codes as PNG bytes, built in memory (nothing derived is stored)."""

import io

import qrcode
from qrcode.constants import ERROR_CORRECT_M


def qr_png(data: str, box_size: int = 8) -> bytes:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=box_size, border=4)
    code.add_data(data)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image(fill_color="black", back_color="white").save(buffer, format="PNG")
    return buffer.getvalue()
