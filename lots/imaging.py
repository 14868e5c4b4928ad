"""Untrusted image intake, barcode/QR decoding and nameplate OCR for photographed products.

Plain Python + Pillow + pyzbar + pytesseract: no Django here, so the DRF views (and Celery tasks) call these
functions and translate ImageRejected into a 400 response.

- open_bounded_image: the only way an uploaded file becomes a PIL image. Size, format and pixel count are
  checked from the header before any pixel is decoded.
- decode_codes: QR codes and barcodes via zbar, cheap downscaled pass first.
- read_nameplate: OCR (tesseract, Japanese + English) of a photographed rating plate, with preprocessing,
  returning the raw text plus *suggested* field values that a person confirms.
- suggest_nameplate_fields: the pure text-to-suggestions part of read_nameplate.
"""

from __future__ import annotations

import io
import os
import re
import struct
import unicodedata
from collections.abc import Iterable

import pytesseract
from PIL import Image, ImageChops, ImageFilter, ImageMath, ImageOps, UnidentifiedImageError
from pyzbar import pyzbar

# One OpenMP thread per Tesseract call: on small nameplate crops more threads cost more in start-up than they
# save, and they take the cores that other requests need (p95 about 1.6 s against 2.7 s on two cores). The
# environment can still say otherwise; the Dockerfile sets the same.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

__all__ = [
    "ImageRejected",
    "decode_codes",
    "open_bounded_image",
    "read_nameplate",
    "suggest_nameplate_fields",
]


class ImageRejected(ValueError):
    """Raised with a clear, user-facing English message, e.g. 'image: file is not a JPEG, PNG or WebP image'."""


# ---------------------------------------------------------------------------------------------------------------
# Bounded opening of untrusted image bytes
# ---------------------------------------------------------------------------------------------------------------

# Pillow format names we accept. "MPO" is what Pillow calls a JPEG carrying a multi-picture index (many phone
# cameras write one for depth or HDR); it is decoded by the JPEG plugin and is a plain JPEG to a browser.
ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP"})
# Plugins Pillow may even try: restricting Image.open keeps every other parser (TIFF, PSD, EPS->Ghostscript, ...)
# away from hostile bytes, so a polyglot is judged only as one of these formats.
_OPEN_FORMATS = ("JPEG", "PNG", "WEBP")
_NOT_AN_IMAGE = "image: file is not a JPEG, PNG or WebP image"
_CORRUPT = "image: file is truncated or corrupt"


def open_bounded_image(data: bytes, *, max_bytes: int, max_pixels: int) -> Image.Image:
    """Decode untrusted bytes into a loaded RGB or L image, or raise ImageRejected.

    The pixel count is checked from the header (Image.open reads only that) before any pixel data is
    decompressed, so a small file declaring a huge canvas is refused in microseconds. The check is local: it does
    not depend on Pillow's process-wide Image.MAX_IMAGE_PIXELS, although Pillow's own bomb check (if stricter)
    is honoured too. EXIF orientation is applied, so the result is the right way up.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, not {type(data).__name__}")
    size = len(data)
    if size == 0:
        raise ImageRejected("image: file is empty")
    if size > max_bytes:
        raise ImageRejected(f"image: {size} bytes is more than the {max_bytes} allowed")
    try:
        image = Image.open(io.BytesIO(data), formats=_OPEN_FORMATS)
    except UnidentifiedImageError:
        raise ImageRejected(_NOT_AN_IMAGE) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's process-wide check fired first (beyond twice its default limit, or someone made it stricter)
        raise ImageRejected(_too_many_pixels(exc, max_pixels)) from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error):
        # e.g. a PNG whose text chunks exceed Pillow's limits, or a header that ends early
        raise ImageRejected(_CORRUPT) from None
    try:
        if image.format not in ACCEPTED_FORMATS:
            raise ImageRejected(_NOT_AN_IMAGE)
        width, height = image.size
        if width <= 0 or height <= 0:
            raise ImageRejected(_CORRUPT)
        if width * height > max_pixels:
            raise ImageRejected(f"image: {width}x{height} pixels is more than the {max_pixels} allowed")
        try:
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageRejected(_too_many_pixels(exc, max_pixels)) from None
        except (OSError, SyntaxError, ValueError, EOFError, struct.error, MemoryError):
            raise ImageRejected(_CORRUPT) from None
        return _to_rgb_or_l(_apply_exif_orientation(image))
    finally:
        # The returned image is always a new object (transposed, converted or copied), so the one backed by the
        # input buffer can go.
        image.close()


def _too_many_pixels(exc: Exception, max_pixels: int) -> str:
    # Pillow says "Image size (10000000000 pixels) exceeds limit of ...": reuse its count when it is there
    match = re.search(r"\((\d+) pixels\)", str(exc))
    if match:
        return f"image: {match.group(1)} pixels is more than the {max_pixels} allowed"
    return f"image: more pixels than the {max_pixels} allowed"


def _apply_exif_orientation(image: Image.Image) -> Image.Image:
    """A new image, turned the way the EXIF Orientation tag says (and the tag reset)."""
    try:
        oriented = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, KeyError, TypeError, struct.error):
        # Unreadable EXIF is common in re-saved photos; keep the pixels as stored rather than refuse the upload.
        oriented = None
    return oriented if oriented is not None and oriented is not image else image.copy()


def _to_rgb_or_l(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode in ("RGB", "L"):
        return image
    if mode == "1":
        return image.convert("L")
    if mode.startswith("I;16") or mode == "I":
        # 16-bit greyscale PNG: scale to 8 bits (a plain convert("L") clips everything above 255 to white)
        return image.convert("I").point(lambda v: v / 256).convert("L")
    if mode == "F":
        return image.convert("L")
    if mode in ("LA", "La", "PA", "RGBA", "RGBa") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")  # P, CMYK, YCbCr, LAB, HSV, ...


# ---------------------------------------------------------------------------------------------------------------
# Barcodes and QR codes
# ---------------------------------------------------------------------------------------------------------------

# A 12 MP photo is about 4000x3000. zbar on the full frame costs a few hundred ms; on a 1600 px copy a few tens,
# and a code big enough to be photographed on purpose still has >2 px modules at that size.
CODE_FAST_LONGEST_SIDE = 1600


def decode_codes(image: Image.Image) -> list[dict]:
    """Decode QR codes and barcodes: [{"type": "QRCODE", "data": "..."}, ...] in zbar's order, de-duplicated.

    Cheapest first, stopping at the first variant that yields anything: a greyscale copy downscaled to
    CODE_FAST_LONGEST_SIDE, its contrast-stretched and binarised version (glare, faded print), its negative
    (light code on a dark background, which zbar does not try by itself), and last the full resolution (a code
    too small in the frame to survive downscaling). An empty list when nothing is found.
    """
    gray = image if image.mode == "L" else image.convert("L")
    small = _downscale(gray, CODE_FAST_LONGEST_SIDE)
    variants = [
        lambda: small,
        lambda: _binarise(ImageOps.autocontrast(small, cutoff=1)),
        lambda: ImageOps.invert(small),
    ]
    if small is not gray:
        variants.append(lambda: gray)
    for make in variants:
        found = _zbar(make())
        if found:
            return found
    return []


def _zbar(gray: Image.Image) -> list[dict]:
    results: list[dict] = []
    seen: set[tuple[str, str]] = set()
    for symbol in pyzbar.decode(gray):
        kind = symbol.type
        data = _decode_payload(symbol.data)
        if (kind, data) in seen:
            continue  # zbar reports e.g. a rotated QR code once per scan direction
        seen.add((kind, data))
        results.append({"type": kind, "data": data})
    return results


def _decode_payload(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _downscale(image: Image.Image, longest_side: int) -> Image.Image:
    """A copy whose longest side is at most `longest_side` (the same object if already small enough)."""
    w, h = image.size
    scale = longest_side / max(w, h)
    if scale >= 1:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    # reducing_gap=1: an integer box reduce does most of the work (fast, and a proper average), bilinear the rest
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=1.0)


def _binarise(gray: Image.Image) -> Image.Image:
    threshold = _otsu_threshold(gray.histogram())
    return gray.point(lambda v: 255 if v > threshold else 0)


def _otsu_threshold(histogram: list[int]) -> int:
    hist = histogram[:256]
    total = sum(hist)
    if total == 0:
        return 127
    sum_all = sum(i * n for i, n in enumerate(hist))
    weight_bg = 0
    sum_bg = 0.0
    best, best_t = -1.0, 127
    for t in range(256):
        weight_bg += hist[t]
        if weight_bg == 0:
            continue
        weight_fg = total - weight_bg
        if weight_fg == 0:
            break
        sum_bg += t * hist[t]
        mean_bg = sum_bg / weight_bg
        mean_fg = (sum_all - sum_bg) / weight_fg
        between = weight_bg * weight_fg * (mean_bg - mean_fg) ** 2
        if between > best:
            best, best_t = between, t
    return best_t


# ---------------------------------------------------------------------------------------------------------------
# Nameplate OCR
# ---------------------------------------------------------------------------------------------------------------

OCR_LANG = "jpn+eng"
OCR_TIMEOUT_SECONDS = 60
# Tesseract reads best with capital letters ~30-50 px tall. Photos are normalised so their longest side falls in
# this range: small crops are enlarged, 12 MP frames reduced (which also keeps OCR time bounded).
OCR_MIN_LONGEST_SIDE = 2000
OCR_MAX_LONGEST_SIDE = 2600


# The passes read_nameplate may make: (minimum local contrast, smoothing radius, scale). The first keeps grain out.
# The second runs only while the model or serial is missing, or a year label was read without a plausible year:
# it keeps lettering half washed out by glare, smooths more and reads at a smaller scale. Tesseract's misreads
# (a digit 0 as 9 or 6, a large kanji label) change with scale and smoothing, so what one pass misses the other
# often gets.
_OCR_PASSES = ((40, 1.0, 1.0), (28, 1.5, 0.75))


def read_nameplate(image: Image.Image, *, kind: str = "vending_machine") -> dict:
    """OCR a photographed nameplate: {"text": str, "suggestions": {maker, model, serial_number, manufactured_year}}.

    The image should come from open_bounded_image (EXIF orientation already applied). "text" is what tesseract
    read (the passes' texts joined by a blank line if more than one pass was needed). Each suggestion is None when
    not found; a value found by an earlier pass is never replaced by a later one.
    Raises pytesseract's TesseractNotFoundError if tesseract is not installed, RuntimeError on OCR_TIMEOUT_SECONDS.
    """
    gray, polarity_known = _ocr_gray(image)
    passes = [(min_contrast, blur, scale, False) for min_contrast, blur, scale in _OCR_PASSES]
    if not polarity_known:
        # light-on-dark or dark-on-light could not be told apart: also try the other way round
        passes.append((*_OCR_PASSES[0], True))
    angle: float | None = None
    texts: list[str] = []
    suggestions: dict | None = None
    for min_contrast, blur, scale, invert in passes:
        if suggestions is not None:
            if invert and (suggestions["model"] or suggestions["serial_number"]):
                continue  # the first polarity was right: something was read
            if not invert and not _worth_another_pass(suggestions, texts):
                continue
        base = gray if scale == 1 else _scaled(gray, scale)
        base = base.filter(ImageFilter.GaussianBlur(blur))
        prepared = _normalise_local_contrast(ImageOps.invert(base) if invert else base, min_contrast)
        if angle is None:
            angle = _estimate_skew(prepared)
        if angle:
            prepared = prepared.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
        text = _tesseract(prepared)
        texts.append(text.strip())
        found = suggest_nameplate_fields(text, kind=kind)
        if suggestions is None:
            suggestions = found
        else:
            suggestions = {key: value if value is not None else found[key] for key, value in suggestions.items()}
    return {"text": "\n\n".join(t for t in texts if t), "suggestions": suggestions}


def _scaled(gray: Image.Image, scale: float) -> Image.Image:
    size = (max(1, round(gray.width * scale)), max(1, round(gray.height * scale)))
    return gray.resize(size, Image.Resampling.LANCZOS)


def _worth_another_pass(suggestions: dict, texts: list[str]) -> bool:
    if suggestions["model"] is None or suggestions["serial_number"] is None:
        return True
    if suggestions["manufactured_year"] is None:
        return any(YEAR_LABEL_RE.search(normalise_ocr_text(text)) for text in texts)
    return False


def _tesseract(image: Image.Image) -> str:
    # psm 4 (one column of text of varying sizes) is what a rating plate is. On these cleaned images it beat psm 3
    # (full page analysis) and psm 6 (one uniform block), and psm 11 (sparse text) picked up more stray marks.
    config = "--oem 1 --psm 4"
    return pytesseract.image_to_string(image, lang=OCR_LANG, config=config, timeout=OCR_TIMEOUT_SECONDS)


def prepare_for_ocr(image: Image.Image) -> Image.Image:
    """The image read_nameplate's first pass gives tesseract: dark lettering on white, evenly lit, deskewed."""
    min_contrast, blur, _ = _OCR_PASSES[0]
    gray, _ = _ocr_gray(image)
    prepared = _normalise_local_contrast(gray.filter(ImageFilter.GaussianBlur(blur)), min_contrast)
    angle = _estimate_skew(prepared)
    if angle:
        prepared = prepared.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    return prepared


def _ocr_gray(image: Image.Image) -> tuple[Image.Image, bool]:
    """Greyscale at OCR scale, dark-on-light, without sensor noise (median: keeps letter edges sharp).

    Also says whether the polarity (dark lettering or light) was clear.
    """
    gray = image if image.mode == "L" else image.convert("L")
    gray = _resize_for_ocr(gray)
    dark_ink, light_ink = _thin_feature_energy(gray)
    if light_ink > dark_ink:
        gray = ImageOps.invert(gray)
    clear = max(dark_ink, light_ink) >= _POLARITY_MARGIN * min(dark_ink, light_ink)
    return gray.filter(ImageFilter.MedianFilter(3)), clear


def _resize_for_ocr(gray: Image.Image) -> Image.Image:
    w, h = gray.size
    longest = max(w, h)
    if longest < OCR_MIN_LONGEST_SIDE:
        scale = OCR_MIN_LONGEST_SIDE / longest
        return gray.resize((round(w * scale), round(h * scale)), Image.Resampling.LANCZOS)
    if longest > OCR_MAX_LONGEST_SIDE:
        return _downscale(gray, OCR_MAX_LONGEST_SIDE)
    return gray


# How much more thin dark detail than thin light detail (or the reverse) makes the polarity clear. Measured on the
# test photos: 4-9x for dark lettering, 5x the other way for a light-on-dark plate.
_POLARITY_MARGIN = 2.0


def _thin_feature_energy(gray: Image.Image) -> tuple[int, int]:
    """How much thin dark and thin light detail the image has: (dark, light). Lettering is thin detail.

    Black top-hat (closing minus image) finds dark strokes, white top-hat (image minus opening) light ones, on a
    reduced copy. Plate edges, rivet shadows and gradients are not thin, and grain is symmetric, so the polarity
    of the lettering dominates. Only features above the noise count.
    """
    small = gray.reduce(3)
    closed = small.filter(ImageFilter.MaxFilter(3)).filter(ImageFilter.MinFilter(3))
    opened = small.filter(ImageFilter.MinFilter(3)).filter(ImageFilter.MaxFilter(3))
    dark = _energy_above(ImageChops.subtract(closed, small).histogram(), 20)
    light = _energy_above(ImageChops.subtract(small, opened).histogram(), 20)
    return dark, light


def _energy_above(histogram: list[int], floor: int) -> int:
    return sum(level * count for level, count in enumerate(histogram) if level >= floor)


# Local contrast normalisation, tuned for letters 30-60 px tall after _resize_for_ocr.
# Windows are in pixels of the 1/4-size copy: the max window must be wider than a stroke (so it sees the plate
# around the ink), the min window wider than the gap between strokes (so it finds the ink).
_LCN_REDUCE = 4
_LCN_MAX_WINDOW = 7
_LCN_MIN_WINDOW = 9
# Neighbourhoods whose darkest and brightest differ by less than min_contrast (of 255) hold no lettering, only
# grain, paint texture or a blank plate, and become white; the gate opens over +-_LCN_SOFTNESS levels.
_LCN_SOFTNESS = 10
# Within a neighbourhood, ink is the darkest ~30% of its range and plate the brightest ~25%: stretch in between.
_LCN_INK, _LCN_PLATE = 0.30, 0.75
_LCN_STRETCH = [max(0, min(255, round((v / 255 - _LCN_INK) / (_LCN_PLATE - _LCN_INK) * 255))) for v in range(256)]


def _normalise_local_contrast(gray: Image.Image, min_contrast: int) -> Image.Image:
    """Rescale each neighbourhood from its own darkest to brightest level, so glare and shadow stop mattering.

    The local maximum (plate brightness) and minimum (ink) are estimated with max/min filters on a reduced copy,
    which is both fast and smooth; low-contrast neighbourhoods are blanked so grain is not amplified into specks.
    """
    small = gray.reduce(_LCN_REDUCE)
    high = small.filter(ImageFilter.MaxFilter(_LCN_MAX_WINDOW)).filter(ImageFilter.GaussianBlur(2))
    low = small.filter(ImageFilter.MinFilter(_LCN_MIN_WINDOW)).filter(ImageFilter.GaussianBlur(2))
    contrast = ImageMath.lambda_eval(lambda a: a["h"] - a["l"], h=high.convert("I"), l=low.convert("I"))
    gate_lut = [
        max(0, min(255, round((v - min_contrast + _LCN_SOFTNESS) * 255 / (2 * _LCN_SOFTNESS)))) for v in range(256)
    ]
    gate = contrast.convert("L").point(gate_lut)
    high, low, gate = (im.resize(gray.size, Image.Resampling.BILINEAR) for im in (high, low, gate))
    scaled = ImageMath.lambda_eval(
        lambda a: (a["g"] - a["l"]) * 255 / a["max"](a["h"] - a["l"], 1),
        g=gray.convert("I"),
        l=low.convert("I"),
        h=high.convert("I"),
    )
    stretched = scaled.convert("L").point(_LCN_STRETCH)
    return Image.composite(stretched, Image.new("L", gray.size, 255), gate)


def _estimate_skew(gray: Image.Image, max_degrees: float = 6.0, step: float = 0.5) -> float:
    """Angle (degrees, counter-clockwise) that makes text lines horizontal, by projection-profile sharpness.

    Rotating the right way lines the ink up into rows, which maximises the variance of the row sums.
    """
    small = _downscale(gray, 700)
    ink = small.point(lambda v: 255 if v < _otsu_threshold(small.histogram()) else 0)
    best_angle, best_score = 0.0, -1.0
    steps = int(max_degrees / step)
    for i in range(-steps, steps + 1):
        angle = i * step
        rotated = ink.rotate(angle, resample=Image.Resampling.NEAREST, expand=False, fillcolor=0)
        rows = rotated.resize((1, rotated.height), Image.Resampling.BOX).tobytes()  # one mean per row
        mean = sum(rows) / len(rows)
        score = sum((r - mean) ** 2 for r in rows)
        if score > best_score * 1.0001:
            best_angle, best_score = angle, score
    return best_angle


# ---------------------------------------------------------------------------------------------------------------
# Text -> suggested fields
# ---------------------------------------------------------------------------------------------------------------

_CJK = r"\u3005\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
# tesseract's jpn model puts spaces between most Japanese characters ("製 造 番 号"); drop them so labels match
_SPACE_BETWEEN_CJK_RE = re.compile(rf"(?<=[{_CJK}])[ \t\u3000]+(?=[{_CJK}])")
# A hyphen between letters/digits, as tesseract may return it: with spaces around it ("SDK - M15G"), as the
# katakana prolonged sound mark or kanji "one" (jpn model), as a dash, or as "_" when the photo is blurred.
_DASH_IN_CODE_RE = re.compile(r"(?<=[A-Za-z0-9])\s?[-ー一―‐‑‒–—−_ｰ]\s?(?=[A-Za-z0-9])")

# What tesseract makes of a colon after a label: ':' (NFKC folds '：'), ';', '.', ',', '=', '|' and stray spaces
_SEP = r"[\s:;.,=|_'`~・-]*"
_LEADING_SEP_RE = re.compile(rf"^{_SEP}")

SERIAL_LABEL_RE = re.compile(
    # Japanese labels may be followed by "No." ("製造番号 No.3A1052"); NFKC has already turned "№" into "No"
    r"(?:(?:製(?:造|品)?番号?|製造|シリアル(?:番号)?)(?:\s*No\b\.?)?(?<!製造)"
    r"|\bSER(?:IAL)?\b\.?\s*(?:NO\b|NUMBER\b|#)?\.?"
    r"|\bS\s*/\s*NO?\b|\bSN\b|\bMFG\.?\s*NO\b)",
    re.IGNORECASE,
)
# Vehicles: chassis (frame) number is the serial; on Japanese plates 車台番号, elsewhere VIN.
VEHICLE_SERIAL_LABEL_RE = re.compile(
    r"(?:車台番号|車体番号|\bVIN\b|\bV\.I\.N\b\.?|\bCHASSIS\b\s*(?:NO\b|NUMBER\b)?\.?|\bFRAME\b\s*(?:NO\b|NUMBER\b)\.?)",
    re.IGNORECASE,
)
MODEL_LABEL_RE = re.compile(
    # 原動機型式 / エンジン型式 is the engine's model, not the product's
    r"(?:(?<!原動機)(?<!エンジン)(?:型式|形式|型番|形番|型名|品番|機種名?)"
    # "MODEL YEAR" is a year label
    r"|\bMODEL\b(?!\s*YEAR)\s*(?:NO\b|NUMBER\b|NAME\b)?\.?"
    # "TYPE" only at the start of a line: "REFRIGERANT TYPE" or "TYPE OF GAS" elsewhere are not the model
    r"|^\s*TYPE\b(?!\s*OF))",
    re.IGNORECASE,
)
YEAR_LABEL_RE = re.compile(
    r"(?:製造年月?日?|製造時期|年式"
    # "MFG. NO." is a serial label, whose value may well start with a year-like number
    r"|\bMFG\b(?!\.?\s*NO\b)\.?\s*(?:YEAR|DATE|YR)?\b\.?|\bMFD\b\.?|\bMODEL\s*YEAR\b|\bYEAR\b"
    r"|\bDATE\s*OF\s*(?:MFG|MANUFACTURE)\b\.?|\bMANUFACTURED\b(?!\s*BY)|\bPRODUCTION\s*(?:DATE|YEAR)\b)",
    re.IGNORECASE,
)
MAKER_LABEL_RE = re.compile(
    r"(?:メーカー?名?|製造者名?|製造元|製造会社|\bMAKER\b|\bMANUFACTURER\b|\bMANUFACTURED\s*BY\b|\bMFR\b\.?)",
    re.IGNORECASE,
)

# A serial or model number: letters/digits with inner hyphens or slashes, at least one digit.
_CODE_TOKEN_RE = re.compile(r"[A-Za-z0-9|](?:[A-Za-z0-9|/()-]*[A-Za-z0-9)|])?")
# 17 characters, digits and capitals without I, O, Q (ISO 3779)
VIN_RE = re.compile(r"(?<![A-Z0-9])[A-HJ-NPR-Z0-9]{17}(?![A-Z0-9])")
# Japanese-market chassis number: model code, hyphen, 6-7 digit serial (ZVW30-1234567, GP1-1012345)
JP_CHASSIS_RE = re.compile(r"(?<![A-Z0-9-])[A-Z]{1,5}[0-9]{1,3}[A-Z]?-[0-9]{6,7}(?![0-9])")

YEAR_MIN, YEAR_MAX = 1970, 2035
# A four-digit year not glued to other digits (so a serial like 20141234 is not a year)
_YEAR_RE = re.compile(r"(?<!\d)(19[7-9]\d|20[0-3]\d)(?!\d)")
# Japanese era: 平成26年 = 2014, 令和2年 = 2020, 昭和63年 = 1988; 元年 is the first year of an era.
# Only the era's second character is required: glare or a rivet often takes the first, and 成 is only in 平成
# while 和 is in 令和 and 昭和, whose plausible years (令和1-17, 昭和45-64) do not overlap.
ERA_RE = re.compile(r"(平成|令和|昭和|成|和)\s*(元|\d{1,2})\s*年")
_ERA_OFFSETS = {"平成": 1988, "令和": 2018, "昭和": 1925, "成": 1988, "H": 1988, "R": 2018, "S": 1925}
# Abbreviated era right after a year label only: "製造年月 H26.3", "年式 R2"
_ERA_ABBREV_RE = re.compile(r"^\s*([HRS])\s*\.?\s*(\d{1,2})(?!\d)", re.IGNORECASE)
_YEAR_SUFFIX_RE = re.compile(r"(?<!\d)(19[7-9]\d|20[0-3]\d)\s*年")
_SEIREKI_RE = re.compile(r"西暦\s*(19[7-9]\d|20[0-3]\d)(?!\d)")

# Known makers: canonical English name and how it appears on a plate (Japanese after space removal, or Latin).
KNOWN_MAKERS: tuple[tuple[str, str], ...] = (
    ("Sanden", r"サンデン|\bSANDEN\b"),
    ("Fuji Electric", r"富士電機|\bFUJI\s*ELECTRIC\b"),
    ("Panasonic", r"パナソニック|\bPANASONIC\b"),
    ("Matsushita", r"松下電器|松下|\bMATSUSHITA\b"),
    ("Kubota", r"クボタ|\bKUBOTA\b"),
    ("Daikin", r"ダイキン|\bDAIKIN\b"),
    ("Sanyo", r"三洋|\bSANYO\b"),
    ("Hitachi", r"日立|\bHITACHI\b"),
    ("Toshiba", r"東芝|\bTOSHIBA\b"),
    ("Toyota", r"トヨタ|\bTOYOTA\b"),
    ("Nissan", r"日産|\bNISSAN\b"),
    ("Honda", r"ホンダ|本田技研|\bHONDA\b"),
    ("Mazda", r"マツダ|\bMAZDA\b"),
    ("Subaru", r"スバル|富士重工|\bSUBARU\b"),
    ("Suzuki", r"スズキ|\bSUZUKI\b"),
    ("Daihatsu", r"ダイハツ|\bDAIHATSU\b"),
    ("Mitsubishi", r"三菱|\bMITSUBISHI\b"),
    # The bottler's brand is on many vending machines it does not make: used only when no maker is found.
    ("Coca-Cola", r"コカ[・.\-]?コーラ|\bCOCA[\s-]?COLA\b"),
)
_KNOWN_MAKER_RES = tuple((name, re.compile(pattern, re.IGNORECASE)) for name, pattern in KNOWN_MAKERS)
_BRAND_ONLY = frozenset({"Coca-Cola"})

# OCR look-alikes of digits, replaced only inside runs of digits in serial numbers
_DIGIT_LOOKALIKES = {"O": "0", "o": "0", "I": "1", "l": "1", "|": "1"}


def suggest_nameplate_fields(text: str, *, kind: str) -> dict:
    """Suggested maker, model, serial number and year from OCR text. Each is None when not found."""
    lines = normalise_ocr_text(text).split("\n")
    return {
        "maker": _find_maker(lines),
        "model": _find_model(lines),
        "serial_number": _find_serial(lines, kind),
        "manufactured_year": _find_year(lines),
    }


def normalise_ocr_text(text: str) -> str:
    """NFKC (full-width letters, digits and '：' become ASCII), no spaces inside Japanese, ASCII hyphens in codes."""
    text = unicodedata.normalize("NFKC", text)
    out = []
    for line in text.splitlines():
        line = _SPACE_BETWEEN_CJK_RE.sub("", line)
        line = _DASH_IN_CODE_RE.sub("-", line)
        line = re.sub(r"[ \t\u3000]+", " ", line).strip()
        out.append(line)
    return "\n".join(out)


def _labelled_values(lines: list[str], label_re: re.Pattern) -> Iterable[str]:
    """For each label occurrence, the text after it on the same line (or the next line if nothing follows)."""
    for i, line in enumerate(lines):
        for match in label_re.finditer(line):
            value = _LEADING_SEP_RE.sub("", line[match.end() :])
            if not value and i + 1 < len(lines):
                value = lines[i + 1]
            if value:
                yield value


def _first_code(value: str) -> str | None:
    match = _CODE_TOKEN_RE.match(value)
    if not match:
        return None
    token = match.group(0)
    if len(token) < 2 or not any(c.isdigit() for c in token):
        return None
    return token


def _find_model(lines: list[str]) -> str | None:
    for value in _labelled_values(lines, MODEL_LABEL_RE):
        # "|" could be I, l or 1 in a model number (which mixes letters and digits freely): end the token there
        token = _first_code(value.replace("|", " "))
        if token:
            return token
    return None


def _find_serial(lines: list[str], kind: str) -> str | None:
    if kind == "vehicle":
        for value in _labelled_values(lines, VEHICLE_SERIAL_LABEL_RE):
            token = _first_code(value)
            if token:
                return _clean_vehicle_serial(token)
    for value in _labelled_values(lines, SERIAL_LABEL_RE):
        token = _first_code(value)
        if token and len(token) >= 3:
            return _fix_digit_lookalikes(token)
    if kind == "vehicle":
        text = "\n".join(lines)
        for pattern in (VIN_RE, JP_CHASSIS_RE):
            for match in pattern.finditer(text.upper()):
                candidate = match.group(0)
                if any(c.isalpha() for c in candidate) and any(c.isdigit() for c in candidate):
                    return candidate
    return None


def _clean_vehicle_serial(token: str) -> str:
    upper = token.upper()
    if len(upper) == 17 and "-" not in upper:
        # A VIN never contains I, O or Q (ISO 3779), so here they can only be misread 1 and 0.
        return upper.replace("O", "0").replace("Q", "0").replace("I", "1").replace("|", "1")
    return _fix_digit_lookalikes(token)


def _fix_digit_lookalikes(token: str) -> str:
    """Turn O/o/I/l/| into 0/1 where they sit among digits ("8765432l" -> "87654321", "S1O23" -> "S1023").

    Only between two digits, or at either end next to two digits; a look-alike next to a letter stays a letter.
    """
    chars = list(token)
    for i, c in enumerate(chars):
        if c not in _DIGIT_LOOKALIKES:
            continue
        before = chars[i - 1] if i > 0 else ""
        after = chars[i + 1] if i + 1 < len(chars) else ""
        if before and after:
            digit_neighbours = before.isdigit() and after.isdigit()
        elif before:  # last character: two digits before it
            digit_neighbours = before.isdigit() and i >= 2 and chars[i - 2].isdigit()
        elif after:  # first character: two digits after it
            digit_neighbours = after.isdigit() and i + 2 < len(chars) and chars[i + 2].isdigit()
        else:
            digit_neighbours = False
        if digit_neighbours:
            chars[i] = _DIGIT_LOOKALIKES[c]
    return "".join(chars)


def _find_year(lines: list[str]) -> int | None:
    for value in _labelled_values(lines, YEAR_LABEL_RE):
        year = _year_in(value, allow_abbreviated_era=True)
        if year is not None:
            return year
    for line in lines:
        for pattern in (ERA_RE, _YEAR_SUFFIX_RE, _SEIREKI_RE):
            match = pattern.search(line)
            if match:
                year = _year_from_match(match)
                if year is not None:
                    return year
    return None


def _year_in(value: str, *, allow_abbreviated_era: bool) -> int | None:
    era = ERA_RE.search(value)
    if era:
        return _year_from_match(era)
    match = _YEAR_RE.search(value)
    if match:
        return int(match.group(1))
    if allow_abbreviated_era:
        abbrev = _ERA_ABBREV_RE.match(value)
        if abbrev:
            return _era_year(abbrev.group(1).upper(), abbrev.group(2))
    return None


def _year_from_match(match: re.Match) -> int | None:
    if match.re is ERA_RE:
        return _era_year(match.group(1), match.group(2))
    year = int(match.group(1))
    return year if YEAR_MIN <= year <= YEAR_MAX else None


def _era_year(era: str, number: str) -> int | None:
    n = 1 if number == "元" else int(number)
    if n < 1:
        return None
    if era == "和":
        era = "令和" if n <= YEAR_MAX - _ERA_OFFSETS["令和"] else "昭和"
    year = _ERA_OFFSETS[era] + n
    return year if YEAR_MIN <= year <= YEAR_MAX else None


def _find_maker(lines: list[str]) -> str | None:
    labelled_raw = None
    for value in _labelled_values(lines, MAKER_LABEL_RE):
        known = _known_maker_in(value, include_brands=True)
        if known:
            return known
        cleaned = value.strip(" .,:;")
        # a name has letters (Latin or Japanese); two stray characters of OCR noise are not a maker
        if labelled_raw is None and len(cleaned) >= 3 and sum(c.isalpha() for c in cleaned) >= 2:
            labelled_raw = cleaned
    if labelled_raw:
        return labelled_raw
    text = "\n".join(lines)
    return _known_maker_in(text, include_brands=False) or _known_maker_in(text, include_brands=True)


def _known_maker_in(text: str, *, include_brands: bool) -> str | None:
    """The known maker mentioned earliest in `text`."""
    best: tuple[int, str] | None = None
    for name, pattern in _KNOWN_MAKER_RES:
        if name in _BRAND_ONLY and not include_brands:
            continue
        match = pattern.search(text)
        if match and (best is None or match.start() < best[0]):
            best = (match.start(), name)
    return best[1] if best else None
