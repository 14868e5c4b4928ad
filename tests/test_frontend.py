import io

import pytest
import segno
from PIL import Image
from pyzbar.pyzbar import decode

from lots import services
from lots.models import LabelStatus

pytestmark = pytest.mark.django_db


def test_label_sheet_prints_each_issued_code_as_a_readable_qr(client, worker, plant):
    labels = services.labels_issue(plant=plant, count=3, actor=worker)
    services.label_attach(product=services.product_create(plant=plant, kind="vending_machine", actor=worker), code=labels[0].code, actor=worker)
    client.force_login(worker)
    page = client.get("/labels/print/").content.decode()
    assert labels[0].code not in page  # attached labels are not printed again
    for label in labels[1:]:
        assert f'data-code="{label.code}"' in page
        assert f"{label.code[:4]}-{label.code[4:8]}-{label.code[8]}" in page
    # The same QR the sheet embeds, rasterised, decodes back to the code.
    png = io.BytesIO()
    segno.make_qr(labels[1].code, error="q").save(png, kind="png", scale=8)
    assert [c.data.decode() for c in decode(Image.open(io.BytesIO(png.getvalue())))] == [labels[1].code]
    assert labels[1].status == LabelStatus.ISSUED


def test_label_sheet_shows_only_the_users_plants(client, make_user, other_plant, plant, worker):
    services.labels_issue(plant=plant, count=2, actor=worker)
    from plants.models import Role

    outsider = make_user("outsider", plant=other_plant, role=Role.WORKER)
    client.force_login(outsider)
    assert "data-code" not in client.get("/labels/print/").content.decode()


def test_home_needs_login_and_lists_lots(client, worker, plant):
    assert client.get("/").status_code == 302
    services.lot_create(plant=plant, code="LOT-HOME", processed_mass_kg=1000, actor=worker)
    client.force_login(worker)
    assert "LOT-HOME" in client.get("/").content.decode()
