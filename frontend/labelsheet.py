"""A4 PDF sheets of QR labels for weatherproof PET label stock (Hisago KLP701S-like: 4 x 10 per sheet).

The report's thermal-transfer Yupo labels faded in UV; the plants moved to laser-printed weatherproof PET
sheets (domain notes §10, P1). Each label carries the code as a QR symbol (error correction Q, which
survives scratches and fading) and in letters for manual entry, grouped `7KQ2-M9XA-4`.

Drawn as vectors (one rectangle per dark module), so the QR stays sharp at any printer resolution.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import segno
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from lots import codes


@dataclass(frozen=True)
class SheetLayout:
    """Positions on the sheet in millimetres, from the top-left corner of an A4 page."""

    columns: int = 4
    rows: int = 10
    label_width: float = 48.3
    label_height: float = 25.4
    margin_left: float = 8.4
    margin_top: float = 21.5
    gap_x: float = 0.0
    gap_y: float = 0.0
    padding: float = 1.6

    @property
    def per_sheet(self) -> int:
        return self.columns * self.rows


KLP701S = SheetLayout()


def _draw_qr(pdf: canvas.Canvas, code: str, x: float, y: float, size: float) -> None:
    """Draw the QR of `code` with its bottom-left corner at (x, y) points, `size` points wide with a 2-module border."""
    qr = segno.make_qr(code, error="q")
    matrix = [list(row) for row in qr.matrix]
    border = 2
    modules = len(matrix) + 2 * border
    module = size / modules
    pdf.setFillColorRGB(0, 0, 0)
    for r, row in enumerate(matrix):
        c = 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            # one rectangle per run of dark modules keeps the file small; a hair of overlap avoids seams
            pdf.rect(x + (border + start) * module, y + size - (border + r + 1) * module,
                     (c - start) * module + 0.01, module + 0.01, stroke=0, fill=1)


def render(labels: Sequence[tuple[str, str]], *, layout: SheetLayout = KLP701S, skip: int = 0,
           offset_x_mm: float = 0.0, offset_y_mm: float = 0.0, title: str = "Moira") -> bytes:
    """PDF bytes for `labels` [(code, caption)], filling positions row by row after `skip` used ones.

    `skip` leaves the first positions of the first sheet empty (a partly used sheet goes back in the
    printer); the offsets shift everything to compensate a printer's feed.
    """
    buffer = io.BytesIO()
    page_w, page_h = A4
    pdf = canvas.Canvas(buffer, pagesize=A4, pageCompression=1)
    pdf.setTitle(f"{title} labels")
    pdf.setAuthor("Moira")
    pdf.setCreator("Moira label sheet")
    position = skip
    for index, (code, caption) in enumerate(labels):
        if position and position % layout.per_sheet == 0 and index:
            pdf.showPage()
        slot = position % layout.per_sheet
        col, row = slot % layout.columns, slot // layout.columns
        left = (layout.margin_left + offset_x_mm + col * (layout.label_width + layout.gap_x)) * mm
        top = page_h - (layout.margin_top + offset_y_mm + row * (layout.label_height + layout.gap_y)) * mm
        bottom = top - layout.label_height * mm
        pad = layout.padding * mm
        qr_size = layout.label_height * mm - 2 * pad
        _draw_qr(pdf, code, left + pad, bottom + pad, qr_size)
        text_x = left + pad + qr_size + 1.2 * mm
        shown = codes.display(code)  # 7KQ2-M9XA-4
        pdf.setFillColorRGB(0, 0, 0)
        pdf.setFont("Courier-Bold", 13)
        pdf.drawString(text_x, bottom + layout.label_height * mm * 0.62, shown[:5])
        pdf.drawString(text_x, bottom + layout.label_height * mm * 0.38, shown[5:])
        pdf.setFont("Helvetica", 5.5)
        pdf.drawString(text_x, bottom + pad + 0.4 * mm, caption[:24])
        position += 1
    if not labels:
        pdf.setFont("Helvetica", 12)
        pdf.drawString(20 * mm, page_h - 30 * mm, "No labels.")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
