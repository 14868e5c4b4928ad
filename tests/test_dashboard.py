"""Manager pages, buyer portal, exports and certificate PDFs, over the demo data: who sees what."""

import pypdfium2
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from pyzbar.pyzbar import decode

from lots.models import Certificate, Lot, Shipment

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(db):
    call_command("load_demo")


def client_as(username):
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


PAGES = ["/dashboard/", "/dashboard/lots/", "/exports/lots.csv", "/exports/units.csv", "/exports/shipments.csv", "/exports/readings.csv"]


def test_permission_matrix_over_pages(demo):
    lot = Lot.objects.filter(plant__code="kanto").first()
    other_lot = Lot.objects.filter(plant__code="kansai").first()
    pages = [*PAGES, f"/dashboard/lots/{lot.pk}/"]
    for path in pages:
        assert Client().get(path).status_code == 302, path  # anonymous: to the log-in page
        assert client_as("manager").get(path).status_code == 200, path
        assert client_as("auditor").get(path).status_code == 200, path
        for outsider in ("worker", "buyer", "buyer-b"):
            assert client_as(outsider).get(path).status_code == 403, (outsider, path)
    assert client_as("manager").get(f"/dashboard/lots/{other_lot.pk}/").status_code == 404
    assert Client().get("/buyer/").status_code == 302
    assert client_as("manager").get("/buyer/").status_code == 403


def test_buyers_see_only_their_shipments_and_anyone_with_a_digest_sees_its_certificate(demo):
    page_a = client_as("buyer").get("/buyer/").content.decode()
    page_b = client_as("buyer-b").get("/buyer/").content.decode()
    mine = Shipment.objects.get(code="KANTO-S1")
    theirs = Shipment.objects.get(code="KANTO-S2")
    digest_a = Certificate.objects.filter(shipment=mine).latest("revision").digest
    digest_b = Certificate.objects.filter(shipment=theirs).latest("revision").digest
    assert digest_a in page_a and digest_b not in page_a
    assert digest_b in page_b and digest_a not in page_b
    assert "KANSAI" not in page_a  # nothing of the other plant
    assert Client().get(f"/verify/{digest_a}").status_code == 200
    assert Client().get(f"/verify/{digest_a}.pdf").status_code == 200
    assert Client().get("/verify/" + "f" * 64 + ".pdf").status_code == 404
    response = client_as("buyer").post("/buyer/", {"plant": mine.plant_id, "grade_label": "Cu1-Cr1"})
    assert response.status_code == 302
    assert "Cu grade is Cu2" in client_as("buyer").get("/buyer/").content.decode()
    flagged = client_as("manager").get("/dashboard/").content.decode().split('id="flagged"')[1].split("</ul>")[0]
    assert "Cu grade is Cu2" in flagged and mine.buyer.name in flagged


def test_certificate_pdf_carries_a_qr_code_back_to_its_verify_page(demo):
    certificate = Certificate.objects.filter(lot__isnull=False).first()
    pdf = Client().get(f"/verify/{certificate.digest}.pdf").content
    page = pypdfium2.PdfDocument(pdf)[0]
    image = page.render(scale=3).to_pil()
    codes = [c.data.decode() for c in decode(image)]
    assert codes == [f"http://testserver/verify/{certificate.digest}"]


def test_exports_open_in_excel_and_keep_to_the_users_plants(demo):
    body = b"".join(client_as("manager").get("/exports/lots.csv").streaming_content)
    assert body.startswith("\ufeff".encode())
    text = body.decode("utf-8-sig")
    lines = text.strip().splitlines()
    assert lines[0].startswith("plant,lot,processed_mass_kg")
    assert len(lines) == 1 + Lot.objects.filter(plant__code="kanto").count()
    assert "KANSAI" not in text
    readings = b"".join(client_as("manager").get("/exports/readings.csv?from=2000-01-01&to=2100-01-01").streaming_content).decode("utf-8-sig")
    assert readings.count("\n") == 1 + 3 * 8 * 720  # three kanto loggers, eight days of 720 rows


def test_today_shows_runs_loggers_and_the_chain(demo):
    page = client_as("manager").get("/dashboard/").content.decode()
    assert 'class="ok" id="chain">正常' in page  # Japanese first
    assert "A-101" in page
    lot_page = client_as("manager").get(f"/dashboard/lots/{Lot.objects.filter(plant__code='kanto').first().pk}/").content.decode()
    assert lot_page.count("<svg") >= 3  # a power curve per logger of the run's line


def test_lots_page_draws_trends_and_compares_estimates_with_analyses(demo):
    page = client_as("manager").get("/dashboard/lots/").content.decode()
    assert page.count('class="trend"') == 4  # kWh/t, CO2/t, Cu, Cr
    assert 'id="compared"' in page and "handheld XRF" in page
    legends = {lot.sorting_method.code for lot in Lot.objects.filter(plant__code="kanto", sorting_method__isnull=False)}
    assert all(f">{code}</text>" in page for code in legends)


def test_trends_can_be_drawn_per_shredder_line(demo):
    page = client_as("manager").get("/dashboard/lots/?trend_by=line").content.decode()
    lines = {run.line.code for lot in Lot.objects.filter(plant__code="kanto") for run in lot.runs.all()}
    assert lines and all(f">{code}</text>" in page for code in lines)
    assert "<strong>ライン別</strong>" in page


def test_verify_page_links_each_figure_to_its_inputs(demo):
    shipment = Certificate.objects.filter(shipment__code="KANTO-S1").latest("revision")
    page = Client().get(f"/verify/{shipment.digest}").content.decode()
    for lot in shipment.payload["lots"]:
        assert f'href="/verify/{lot["certificate_digest"]}"' in page
    lot_digest = shipment.payload["lots"][0]["certificate_digest"]
    lot_page = Client().get(f"/verify/{lot_digest}").content.decode()
    assert 'id="run-inputs"' in lot_page and "A-101 (×1000.000000 power_of_ten, v0" in lot_page and "0.443000 kg/kWh" in lot_page
