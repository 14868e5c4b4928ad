"""Worker-app benchmarks without a browser: shell bytes, nameplate OCR latency, 12-megapixel QR decode."""

from __future__ import annotations

import gzip
import io
import os
import random
import statistics
import time
from pathlib import Path

import pytesseract
import segno
from PIL import Image, ImageDraw
from pyzbar import pyzbar

from frontend.views import SHELL_STATIC, _file_bytes
from lots import imaging

ROOT = Path(__file__).resolve().parent.parent
# As in production (Dockerfile): one OpenMP thread per tesseract run is faster for nameplate-sized images.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")


def shell_bytes() -> dict:
    """First-load bytes of the precached shell, gzip-compressed as WhiteNoise serves them, against raw bytes."""
    raw = [_file_bytes(path) for path in SHELL_STATIC]
    compressed = sum(len(gzip.compress(data, 9)) for data in raw)
    return {"value": compressed, "unit": "bytes compressed (aim < 200 KB)", "baseline": sum(map(len, raw)),
            "ratio": round(compressed / sum(map(len, raw)), 3)}


def ocr_p95() -> dict:
    """Time from a nameplate photo to suggestions (our preprocessing + OCR) against one plain tesseract pass."""
    photos = sorted((ROOT / "tests" / "fixtures" / "nameplates").glob("*.jpg"))
    ours, plain = [], []
    for path in photos * 2:
        data = path.read_bytes()
        start = time.perf_counter()
        imaging.read_nameplate(imaging.open_bounded_image(data, max_bytes=15 << 20, max_pixels=50_000_000))
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        pytesseract.image_to_string(Image.open(io.BytesIO(data)), lang="jpn+eng")
        plain.append(time.perf_counter() - start)
    value, baseline = statistics.quantiles(ours, n=20)[-1], statistics.quantiles(plain, n=20)[-1]
    return {"value": round(value * 1000), "unit": "ms p95 photo to OCR suggestions (aim < 2000)", "baseline": round(baseline * 1000),
            "ratio": round(value / baseline, 2)}


def decode_12mp() -> dict:
    """Decode a label QR in a 4000x3000 photo: our bounded path against pyzbar on the full-resolution image."""
    rng = random.Random(3)
    photo = Image.new("RGB", (4000, 3000), (120, 110, 100))
    draw = ImageDraw.Draw(photo)
    for _ in range(400):
        x, y = rng.randrange(4000), rng.randrange(3000)
        draw.rectangle((x, y, x + rng.randrange(20, 300), y + rng.randrange(20, 300)), fill=tuple(rng.randrange(256) for _ in range(3)))
    qr = io.BytesIO()
    segno.make_qr("7KQ2M9XA4", error="q").save(qr, kind="png", scale=24, border=4)
    photo.paste(Image.open(qr).convert("RGB"), (1700, 1100))
    image = photo
    ours = [_timed(lambda: imaging.decode_codes(image)) for _ in range(5)]
    full = [_timed(lambda: pyzbar.decode(image.convert("L"))) for _ in range(5)]
    assert imaging.decode_codes(image)[0]["data"] == "7KQ2M9XA4"
    return {"value": round(min(ours) * 1000), "unit": "ms to decode a 12 MP photo (aim < 150)", "baseline": round(min(full) * 1000),
            "ratio": round(min(ours) / min(full), 2)}


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run() -> dict:
    return {"app_shell_first_load": shell_bytes(), "nameplate_ocr_p95": ocr_p95(), "qr_decode_12mp": decode_12mp()}
