"""Reading labels and nameplates in the app: the fake camera fed with a printed label, the photo fallback,
OCR suggestions the worker confirms, and hostile images answered with the server's message."""

from __future__ import annotations

import io
import random
import shutil
from pathlib import Path

import pytest
import segno
from PIL import Image, ImageFilter

from frontend import labelsheet
from lots import services
from lots.codes import display
from lots.models import Label, Product
from tests.frontend.support import ARGS, CHROMIUM, PHONE, confirm, have_rasteriser, login_cookie, rasterise, wait_ready, write_y4m

pytestmark = pytest.mark.django_db(transaction=True)

NAMEPLATES = Path(__file__).resolve().parent.parent / "fixtures" / "nameplates"


def printed_label_photo(client, user, plant) -> tuple[str, Image.Image]:
    """Print a one-label sheet through the app's PDF view, rasterise it as a printer would, and photograph
    the label: cut out, tilted, softened and noisy, on a grey workshop background (640 x 480)."""
    client.force_login(user)
    response = client.get(f"/labels/sheet.pdf?count=1&plant={plant.pk}", follow=True)
    code = Label.objects.latest("id").code
    dpi = 150
    page = rasterise(response.content, dpi=dpi)[0].convert("RGB")
    layout = labelsheet.KLP701S
    dots = dpi / 25.4
    box = (round(layout.margin_left * dots), round(layout.margin_top * dots),
           round((layout.margin_left + layout.label_width) * dots), round((layout.margin_top + layout.label_height) * dots))
    label = page.crop(box)
    label = label.resize((label.width * 2, label.height * 2), Image.BICUBIC).rotate(4, expand=True, fillcolor=(150, 150, 145))
    frame = Image.new("RGB", (640, 480), (150, 150, 145))
    frame.paste(label, ((640 - label.width) // 2, (480 - label.height) // 2))
    frame = frame.filter(ImageFilter.GaussianBlur(0.8))
    rng = random.Random(7)
    noisy = bytes(max(0, min(255, v + rng.randint(-12, 12))) for v in frame.tobytes())
    return code, Image.frombytes("RGB", frame.size, noisy)


@pytest.mark.skipif(not have_rasteriser(), reason="no PDF rasteriser: pip install pypdfium2, or apt-get install -y poppler-utils")
def test_the_camera_reads_a_printed_label(playwright, live_server, client, worker, plant, tmp_path):
    code, photo = printed_label_photo(client, worker, plant)
    product = services.product_create(plant=plant, kind="vending_machine", maker="Sanden", model="SVM-CAM", label_code=code, actor=worker)
    video = write_y4m(tmp_path / "label.y4m", photo)
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
        *ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", f"--use-file-for-fake-video-capture={video}"])
    try:
        context = browser.new_context(base_url=live_server.url, permissions=["camera"], **PHONE)
        context.add_cookies([login_cookie(worker, live_server.url)])
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto("/app/#/identify")
        wait_ready(page)
        assert not page.evaluate("'BarcodeDetector' in window")  # Linux Chromium: the jsQR decoder does the work
        page.click("[data-test=identify-scan]")
        page.wait_for_selector("[data-test=scanner]", state="detached", timeout=20000)  # read, not typed
        assert page.inner_text("[data-test=unit-label]") == display(code)
        assert "SVM-CAM" in page.inner_text("[data-test=identify-result]")
        assert page.evaluate("typeof window.jsQR") == "function"
        assert not errors
        assert product.labels.get().code == code
    finally:
        browser.close()


def test_a_photo_goes_to_the_server_when_the_camera_cannot_read(app, plant, worker, tmp_path):
    product = services.product_create(plant=plant, kind="vending_machine", maker="Fuji", model="FVM-PHOTO", actor=worker)
    code = services.labels_issue(plant=plant, count=1, actor=worker)[0].code
    services.label_attach(product=product, code=code, actor=worker)
    photo = tmp_path / "label.png"
    segno.make_qr(code, error="q").save(str(photo), scale=6, border=4)
    page = app.open("#/identify")
    page.click("[data-test=identify-scan]")
    page.wait_for_selector("[data-test=scanner]")
    with page.expect_file_chooser() as chooser:
        page.click("[data-test=scan-photo-choose]")
    chooser.value.set_files(str(photo))
    page.wait_for_selector("[data-test=scanner]", state="detached")
    assert page.inner_text("[data-test=unit-label]") == display(code)


def test_typing_a_code_checks_its_check_symbol(app, plant, worker):
    code = services.labels_issue(plant=plant, count=1, actor=worker)[0].code
    page = app.open("#/identify")
    page.click("[data-test=identify-scan]")
    wrong = code[:8] + ("0" if code[8] != "0" else "1")
    page.fill("[data-test=scan-manual]", wrong)
    assert page.is_disabled("[data-test=scan-manual-ok]")
    assert page.inner_text("[data-test=scan-manual-hint]") == "チェック文字が一致しません。ラベルを読み直してください。"
    page.fill("[data-test=scan-manual]", code.lower().replace("0", "o").replace("1", "l"))
    assert page.is_enabled("[data-test=scan-manual-ok]")
    page.click("[data-test=scan-manual-ok]")
    # issued but on no unit yet: the server says so, in its words
    page.wait_for_selector("[data-test=identify-scan-error]:not(:empty)")
    assert display(code) in page.inner_text("[data-test=identify-scan-error]")


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract is missing: bash scripts/system-deps.sh")
def test_nameplate_ocr_proposes_and_the_worker_confirms(app, plant, worker):
    intake = services.intake_create(plant=plant, slip_number="SLIP-OCR", received_on="2026-01-05", expected_count=3, actor=worker)
    page = app.open()
    page.evaluate(f"localStorage.setItem('moira.intake', JSON.stringify({{id: {intake.pk}, key: null, slip_number: 'SLIP-OCR', "
                  f"expected_count: 3, plant: {plant.pk}, baseline: 0, openedAt: 0}}))")
    page.goto(f"{app.base_url}/app/#/intake")
    page.wait_for_selector("[data-test=unit-form]")
    page.fill("[data-test=maker]", "")
    page.fill("[data-test=model]", "")
    with page.expect_file_chooser() as chooser:
        page.click("[data-test=nameplate-photo]")
    chooser.value.set_files(str(NAMEPLATES / "nameplate-01-sanden-jp.jpg"))
    page.wait_for_selector("[data-test=ocr-use]", timeout=30000)
    assert page.input_value("[data-test=serial]") == ""  # nothing is filled before the worker agrees
    page.click("[data-test=ocr-use]")
    assert page.input_value("[data-test=maker]") == "Sanden"
    assert page.input_value("[data-test=model]") == "VMC-123ABC"
    page.fill("[data-test=serial]", "S1234567-X")  # the worker corrects what the plate really says
    page.evaluate("document.getElementById('toast').replaceChildren()")
    page.click("[data-test=unit-save]")
    confirm(page)  # no label yet
    page.wait_for_selector("#toast [data-test^=toast-]")
    assert page.locator("[data-test=toast-ok]").count() == 1, page.inner_text("#toast")
    product = Product.objects.get()
    assert (product.maker, product.model, product.serial_number, product.manufactured_year) == ("Sanden", "VMC-123ABC", "S1234567-X", 2014)


@pytest.mark.parametrize("hostile", ["bomb", "not-an-image"])
def test_a_hostile_image_gets_the_servers_clear_message(app, plant, tmp_path, hostile):
    path = tmp_path / "nameplate.png"
    if hostile == "bomb":
        # 64 megapixels in a few kilobytes: more than the server opens (50)
        buffer = io.BytesIO()
        Image.new("1", (8_000, 8_000)).save(buffer, "PNG")
        path.write_bytes(buffer.getvalue())
    else:
        path.write_bytes(b"<?php system($_GET['c']); ?>" * 20)
    page = app.open("#/intake")
    page.fill("[data-test=slip-number]", f"SLIP-{hostile}")
    page.click("[data-test=slip-save]")
    page.wait_for_selector("[data-test=unit-form]")
    with page.expect_file_chooser() as chooser:
        page.click("[data-test=nameplate-photo]")
    chooser.value.set_files(str(path))
    message = page.wait_for_selector("[data-test=ocr-error]").inner_text()
    assert message.startswith("image: ")
    assert ("pixels" in message) if hostile == "bomb" else ("JPEG" in message or "image" in message[7:])
