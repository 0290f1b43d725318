"""Draw static/favicon.svg as static/wechat-share-icon.png (300×300, no transparency).

WeChat's share card wants a real image URL (an SVG is not shown; ≥ 300×300 is what
its documentation recommends). Pillow cannot read SVG, so the favicon's two shapes
(a rounded square, a check mark in its 32-unit viewBox) are drawn again here, four
times larger, then scaled down for smooth edges. Run: .venv/bin/python scripts/wechat_share_icon.py
"""

from pathlib import Path

from PIL import Image, ImageDraw

SIZE, SCALE = 300, 4
RED, WHITE = "#9b1c1c", "white"
OUT = Path(__file__).resolve().parent.parent / "static" / "wechat-share-icon.png"


def draw() -> Image.Image:
    unit = SIZE * SCALE / 32
    image = Image.new("RGBA", (SIZE * SCALE,) * 2, (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    pen.rounded_rectangle([0, 0, SIZE * SCALE - 1, SIZE * SCALE - 1], radius=6 * unit, fill=RED)
    points = [(9 * unit, 16.5 * unit), (14 * unit, 21.5 * unit), (23 * unit, 10.5 * unit)]
    width = 3.5 * unit
    pen.line(points, fill=WHITE, width=round(width), joint="curve")
    for x, y in (points[0], points[-1]):  # round line caps
        pen.ellipse([x - width / 2, y - width / 2, x + width / 2, y + width / 2], fill=WHITE)
    image = image.resize((SIZE, SIZE), Image.LANCZOS)
    flat = Image.new("RGB", image.size, WHITE)  # the card shows it on white
    flat.paste(image, mask=image)
    return flat


if __name__ == "__main__":
    draw().save(OUT, optimize=True)
