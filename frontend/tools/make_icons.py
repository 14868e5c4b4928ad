"""Draw the worker app's icons with Pillow (no font needed): python frontend/tools/make_icons.py.

`icon-*.png` are rounded squares for "any" purpose; `maskable-*.png` fill the whole square and keep the mark
inside the central 80 % safe zone, so launchers may crop them to a circle or squircle.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent.parent / "static" / "frontend" / "icons"
BACKGROUND = (11, 83, 69, 255)  # the manifest's theme colour, #0b5345
MARK = (255, 255, 255, 255)
ACCENT = (244, 208, 63, 255)  # safety yellow


def _mark(draw: ImageDraw.ImageDraw, box: tuple[float, float, float, float]) -> None:
    """An "M" of two strokes over a QR-like finder square: the app reads labels and records machines."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    stroke = w * 0.13
    # the M
    left, right, top, bottom = x0 + w * 0.08, x1 - w * 0.08, y0 + h * 0.12, y0 + h * 0.66
    mid = (left + right) / 2
    draw.polygon([(left, bottom), (left, top), (left + stroke, top), (mid, top + (bottom - top) * 0.55),
                  (right - stroke, top), (right, top), (right, bottom), (right - stroke, bottom),
                  (right - stroke, top + (bottom - top) * 0.35), (mid, bottom - (bottom - top) * 0.1),
                  (left + stroke, top + (bottom - top) * 0.35), (left + stroke, bottom)], fill=MARK)
    # a finder pattern under it
    size = h * 0.24
    fx0, fy0 = x0 + w * 0.08, y1 - size - h * 0.02
    draw.rectangle([fx0, fy0, fx0 + size, fy0 + size], fill=ACCENT)
    inset = size / 7
    draw.rectangle([fx0 + inset, fy0 + inset, fx0 + size - inset, fy0 + size - inset], fill=BACKGROUND)
    draw.rectangle([fx0 + 2 * inset, fy0 + 2 * inset, fx0 + size - 2 * inset, fy0 + size - 2 * inset], fill=ACCENT)
    # a bar for the label text
    draw.rectangle([fx0 + size * 1.25, fy0 + size * 0.3, x1 - w * 0.08, fy0 + size * 0.7], fill=ACCENT)


def icon(size: int, *, maskable: bool) -> Image.Image:
    scale = 4  # draw big, then downsample for smooth edges
    big = size * scale
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if maskable:
        draw.rectangle([0, 0, big, big], fill=BACKGROUND)
        margin = big * 0.22  # inside the 80 % safe zone circle
    else:
        draw.rounded_rectangle([0, 0, big - 1, big - 1], radius=big * 0.18, fill=BACKGROUND)
        margin = big * 0.14
    _mark(draw, (margin, margin, big - margin, big - margin))
    return image.resize((size, size), Image.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        icon(size, maskable=False).save(OUT / f"icon-{size}.png", optimize=True)
        icon(size, maskable=True).save(OUT / f"maskable-{size}.png", optimize=True)
    icon(180, maskable=True).convert("RGB").save(OUT / "apple-touch-icon.png", optimize=True)


if __name__ == "__main__":
    main()
