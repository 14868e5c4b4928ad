"""The PDF label sheet: new codes issued once, laid out 4 x 10 on A4, each QR decoding back to its code."""

from __future__ import annotations

import pytest
from pyzbar.pyzbar import decode

from frontend import labelsheet
from lots.models import Label, LabelStatus
from plants.models import Role
from tests.frontend.support import have_rasteriser, rasterise

pytestmark = pytest.mark.django_db

needs_poppler = pytest.mark.skipif(not have_rasteriser(), reason="no PDF rasteriser: pip install pypdfium2, or apt-get install -y poppler-utils")


def sheet(client, **params):
    response = client.get("/labels/sheet.pdf", params)
    assert response.status_code == 303, response.content
    pdf = client.get(response["Location"])
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    return response["Location"], pdf.content


@needs_poppler
def test_sheet_issues_the_codes_and_every_qr_reads_back(client, worker, plant):
    client.force_login(worker)
    location, pdf = sheet(client, count=45, plant=plant.pk)
    issued = list(Label.objects.filter(plant=plant).order_by("id"))
    assert len(issued) == 45 and all(label.status == LabelStatus.ISSUED for label in issued)
    pages = rasterise(pdf, dpi=200)
    assert len(pages) == 2  # 40 on the first sheet, 5 on the next
    assert abs(pages[0].width - 1654) <= 1 and abs(pages[0].height - 2339) <= 1  # A4 at 200 dpi
    read = [symbol.data.decode() for page in pages for symbol in decode(page) if symbol.type == "QRCODE"]
    assert sorted(read) == sorted(label.code for label in issued)
    # Reloading the sheet (or a PDF viewer's range requests) prints the same codes and issues none.
    again = client.get(location)
    assert again.content.startswith(b"%PDF") and Label.objects.count() == 45


@needs_poppler
def test_the_first_label_sits_in_the_top_left_position(client, worker, plant):
    client.force_login(worker)
    _, pdf = sheet(client, count=1, plant=plant.pk, skip=5)
    page = rasterise(pdf, dpi=100)[0]
    layout = labelsheet.KLP701S
    dots = 100 / 25.4
    slot = 5  # second row, second column
    col, row = slot % layout.columns, slot // layout.columns
    left = round((layout.margin_left + col * layout.label_width) * dots)
    top = round((layout.margin_top + row * layout.label_height) * dots)
    cell = page.crop((left, top, left + round(layout.label_width * dots), top + round(layout.label_height * dots)))
    code = Label.objects.get().code
    assert [symbol.data.decode() for symbol in decode(cell)] == [code]


def test_sheet_needs_a_plant_of_the_user_and_a_sane_count(client, worker, plant, other_plant, make_user):
    assert client.get("/labels/sheet.pdf?count=4").status_code == 302  # log in first
    client.force_login(worker)
    assert client.get(f"/labels/sheet.pdf?count=4&plant={other_plant.pk}").status_code == 400
    assert client.get(f"/labels/sheet.pdf?count=0&plant={plant.pk}").status_code == 400
    assert client.get(f"/labels/sheet.pdf?count=501&plant={plant.pk}").status_code == 400
    assert Label.objects.count() == 0
    outsider = make_user("outsider", plant=other_plant, role=Role.WORKER)
    client.force_login(outsider)
    _, pdf = sheet(client, count=2)  # one plant: no need to name it
    assert Label.objects.filter(plant=other_plant).count() == 2


@needs_poppler
def test_another_plants_label_ids_print_nothing(client, worker, plant, other_plant, make_user):
    outsider = make_user("outsider", plant=other_plant, role=Role.WORKER)
    client.force_login(outsider)
    _, pdf = sheet(client, count=2, plant=other_plant.pk)
    assert len(decode(rasterise(pdf, dpi=100)[0])) == 2
    theirs = ",".join(str(pk) for pk in Label.objects.values_list("pk", flat=True))
    client.force_login(worker)
    response = client.get(f"/labels/sheet.pdf?plant={plant.pk}&ids={theirs}")
    assert response.status_code == 200
    assert decode(rasterise(response.content, dpi=100)[0]) == []
