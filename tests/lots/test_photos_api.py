"""Photos through the API: QR scans, nameplate OCR and dismantling evidence, on real images."""

import io
import struct
import zlib
from pathlib import Path

import pytest
import segno
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from lots import services
from lots.models import Photo
from plants.models import Role
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def image_file(path: Path) -> SimpleUploadedFile:
    return SimpleUploadedFile(path.name, path.read_bytes())


def png_claiming(width: int, height: int) -> bytes:
    """A tiny, well-formed PNG whose header declares a huge canvas."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b"")


def test_scan_decodes_a_real_qr_photo(worker_api):
    response = worker_api.post("/api/v1/scans/", {"image": image_file(FIXTURES / "images" / "pyzbar-qrcode.png")}, format="multipart")
    assert response.status_code == 200
    assert response.json()["codes"] == [{"type": "QRCODE", "data": "Thalassiodracon", "label": None, "product": None}]


def test_scan_of_a_photo_without_codes_is_an_empty_list(worker_api):
    response = worker_api.post("/api/v1/scans/", {"image": image_file(FIXTURES / "images" / "pyzbar-empty.png")}, format="multipart")
    assert response.json() == {"codes": []}


def test_scan_names_the_product_behind_a_moira_label_and_flags_unknown_ones(worker_api, worker, plant):
    label = services.labels_issue(plant=plant, count=1, actor=worker)[0]
    product = services.product_create(plant=plant, kind="vending_machine", label_code=label.code, actor=worker)
    png = io.BytesIO()
    segno.make_qr(label.code, error="q").save(png, kind="png", scale=10)
    response = worker_api.post("/api/v1/scans/", {"image": SimpleUploadedFile("label.png", png.getvalue())}, format="multipart")
    (code,) = response.json()["codes"]
    assert (code["data"], code["product"], code["label_status"]) == (label.code, product.pk, "attached")
    stranger = "ZZZZZZZZ"
    from lots.codes import check_symbol

    png = io.BytesIO()
    segno.make_qr(stranger + check_symbol(stranger)).save(png, kind="png", scale=10)
    (code,) = worker_api.post("/api/v1/scans/", {"image": SimpleUploadedFile("x.png", png.getvalue())}, format="multipart").json()["codes"]
    assert code["label_status"] == "unknown" and code["product"] is None


@pytest.mark.parametrize(
    ("name", "payload", "message"),
    [
        ("notes.txt", b"just some text, not a picture", "not a JPEG, PNG or WebP"),
        ("huge.png", png_claiming(100_000, 100_000), "pixels"),
        ("anim.gif", b"GIF89a" + b"\x00" * 64, "not a JPEG, PNG or WebP"),
    ],
)
def test_hostile_or_wrong_images_are_refused_by_field(worker_api, name, payload, message):
    response = worker_api.post("/api/v1/scans/", {"image": SimpleUploadedFile(name, payload)}, format="multipart")
    assert response.status_code == 400
    assert message in response.json()["image"][0]


def test_oversized_photos_are_refused_before_decoding(worker_api, settings):
    settings.MOIRA_MAX_UPLOAD_BYTES = 50_000
    big = io.BytesIO()
    Image.effect_noise((400, 400), 90).convert("RGB").save(big, "PNG")
    response = worker_api.post("/api/v1/scans/", {"image": SimpleUploadedFile("big.png", big.getvalue())}, format="multipart")
    assert response.status_code == 400 and "larger than" in response.json()["image"][0]


def test_nameplate_photo_is_read_and_kept_as_evidence(worker_api, worker, plant):
    product = services.product_create(plant=plant, kind="vending_machine", actor=worker)
    photo = FIXTURES / "nameplates" / "nameplate-01-sanden-jp.jpg"
    response = worker_api.post("/api/v1/nameplates/", {"image": image_file(photo), "product": product.pk}, format="multipart")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["suggestions"] == {"maker": "Sanden", "model": "VMC-123ABC", "serial_number": "S1234567", "manufactured_year": 2014}
    kept = Photo.objects.get(pk=body["photo"])
    assert kept.product == product and kept.purpose == "nameplate" and kept.image.read() == photo.read_bytes()


def test_buyers_cannot_use_the_cameras(make_user, plant, buyer_org):
    buyer = client_for(make_user("b", plant=plant, role=Role.BUYER, buyer=buyer_org))
    response = buyer.post("/api/v1/scans/", {"image": image_file(FIXTURES / "images" / "pyzbar-qrcode.png")}, format="multipart")
    assert response.status_code == 403


def test_dismantling_photo_is_attached_to_its_record(worker_api, worker, plant):
    product = services.product_create(plant=plant, kind="vending_machine", actor=worker)
    record = worker_api.post("/api/v1/dismantlings/", {"product": product.pk, "pattern": "blank",
                                                        "performed_at": "2024-05-01T10:00:00+09:00"}, format="json").json()
    response = worker_api.post(f"/api/v1/dismantlings/{record['id']}/photos/",
                               {"image": image_file(FIXTURES / "images" / "pyzbar-empty.png")}, format="multipart")
    assert response.status_code == 201
    assert Photo.objects.get().dismantling_id == record["id"]


def test_a_nameplate_read_before_the_unit_existed_is_linked_when_the_unit_is_registered(worker_api, plant):
    photo = FIXTURES / "nameplates" / "nameplate-02-fuji-en.jpg"
    read = worker_api.post("/api/v1/nameplates/", {"image": image_file(photo), "plant": plant.pk}, format="multipart").json()
    product = worker_api.post("/api/v1/products/", {"plant": plant.pk, "kind": "vending_machine", **{
        k: v for k, v in read["suggestions"].items() if v is not None}, "nameplate_photo": read["photo"]}, format="json")
    assert product.status_code == 201, product.json()
    assert Photo.objects.get(pk=read["photo"]).product_id == product.json()["id"]
    again = worker_api.post("/api/v1/products/", {"plant": plant.pk, "kind": "vending_machine", "nameplate_photo": read["photo"]}, format="json")
    assert "nameplate_photo" in again.json()
