"""A certificate as a one-page PDF with a QR code to its /verify/ page (reportlab's built-in Japanese CID font)."""

from __future__ import annotations

import io

import segno
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

FONT = "HeiseiKakuGo-W5"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

ROWS = [
    ("Cu (mass %)", "cu_mass_pct"), ("Cr (mass %)", "cr_mass_pct"), ("品質等級 Grade", "grade_label"),
    ("電力量 Energy (kWh)", "energy_kwh"), ("kWh/t", "energy_kwh_per_t"), ("CO2 (kg)", "co2_kg"), ("t-CO2/t", "co2_t_per_t"),
    ("CO2 per unit (kg)", "co2_kg_per_unit"), ("電力データ被覆率 Power coverage (%)", "power_coverage_pct"),
]


def certificate_pdf(document: dict, verify_url: str) -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4)
    page.setTitle(f"Moira certificate {document['digest'][:12]}")
    width, height = A4
    y = height - 25 * mm
    page.setFont(FONT, 18)
    page.drawString(20 * mm, y, "再生資源証明書 / Recycled material certificate")
    y -= 12 * mm
    page.setFont(FONT, 11)
    plant = document["plant"]
    subject = document.get("lot") or document.get("shipment")
    heading = [f"製造業者 Plant: {plant['name']} ({plant['code']})"]
    if document["type"] == "lot":
        heading += [f"ロット番号 Lot: {subject['code']}", f"処理量 Processed: {subject['processed_mass_kg']} kg"]
    else:
        heading += [f"出荷 Shipment: {subject['code'] or subject['id']} → {subject['buyer']['name']}",
                    f"出荷日時 Shipped: {subject['shipped_at']}", f"出荷量 Mass: {subject['mass_kg']} kg"]
    for line in heading:
        page.drawString(20 * mm, y, line)
        y -= 7 * mm
    y -= 4 * mm
    for label, key in ROWS:
        value = document.get(key)
        page.drawString(20 * mm, y, label)
        page.drawString(110 * mm, y, "—" if value is None else str(value))
        y -= 7 * mm
    if document.get("missing"):
        y -= 4 * mm
        page.setFont(FONT, 9)
        page.drawString(20 * mm, y, "不足データ Missing data:")
        for item in document["missing"][:8]:
            y -= 5 * mm
            page.drawString(24 * mm, y, f"- {item}"[:110])
    status = "SUPERSEDED: see " + document["current_digest"] if document["superseded"] else "Current certificate"
    page.setFont(FONT, 9)
    page.drawString(20 * mm, 38 * mm, status[:110])
    page.drawString(20 * mm, 32 * mm, f"SHA-256: {document['digest']}")
    page.drawString(20 * mm, 26 * mm, f"Issued {document['issued_at']} · revision {document['revision']} · verify: {verify_url}"[:120])
    qr = io.BytesIO()
    segno.make_qr(verify_url, error="m").save(qr, kind="png", scale=6, border=2)
    page.drawImage(ImageReader(io.BytesIO(qr.getvalue())), width - 60 * mm, 45 * mm, 40 * mm, 40 * mm)
    page.showPage()
    page.save()
    return buffer.getvalue()
