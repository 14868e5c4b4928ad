"""Helpers for the browser tests: Chromium's arguments, a logged-in context, PDF rasterising, fake camera video."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from django.conf import settings
from django.test import Client
from PIL import Image

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run"]
PHONE = {"viewport": {"width": 412, "height": 915}, "device_scale_factor": 1, "is_mobile": False, "has_touch": True}


def login_cookie(user, url: str) -> dict:
    """The session cookie of `user` for the live server, without going through the log-in form."""
    client = Client()
    client.force_login(user)
    return {"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value, "url": url}


def wait_ready(page, timeout: float = 20000) -> None:
    page.wait_for_selector("body[data-ready='1']", timeout=timeout)


def wait_controlled(page, timeout: float = 20000) -> None:
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=timeout)


def pending(page) -> int:
    return int(page.get_attribute("[data-test=pending-count]", "data-count"))


def wait_pending(page, count: int, timeout: float = 20000) -> None:
    page.wait_for_selector(f"[data-test=pending-count][data-count='{count}']", timeout=timeout)


def type_code(page, code: str) -> None:
    """In the open scanner, type the code (the camera is not there) and confirm it."""
    page.wait_for_selector("[data-test=scanner]")
    page.fill("[data-test=scan-manual]", code)
    page.click("[data-test=scan-manual-ok]")
    page.wait_for_selector("[data-test=scanner]", state="detached")


def act(page, selector: str) -> str:
    """Tap a save button and wait for the app's verdict on that action: "ok", "queued" or "error"."""
    page.evaluate("document.getElementById('toast').replaceChildren()")
    page.click(selector)
    toast = page.wait_for_selector("#toast [data-test^=toast-]")
    return toast.get_attribute("data-test").removeprefix("toast-")


def confirm(page) -> None:
    page.click("[data-test=ask-yes]")
    page.wait_for_selector("[data-test=ask]", state="detached")


try:
    import pypdfium2
except ImportError:  # pragma: no cover - depends on the machine
    pypdfium2 = None


def have_rasteriser() -> bool:
    """Whether a PDF rasteriser is here: pypdfium2 (pip), else poppler's pdftoppm (apt poppler-utils)."""
    return pypdfium2 is not None or shutil.which("pdftoppm") is not None


def rasterise(pdf: bytes, dpi: int = 200) -> list[Image.Image]:
    """Every page of a PDF as a greyscale image, as a printer would lay it down."""
    if pypdfium2 is not None:
        document = pypdfium2.PdfDocument(pdf)
        try:
            return [page.render(scale=dpi / 72, grayscale=True).to_pil().convert("L") for page in document]
        finally:
            document.close()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "sheet.pdf"
        source.write_bytes(pdf)
        subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-png", str(source), str(Path(tmp) / "page")], check=True, timeout=60)
        return [Image.open(path).copy() for path in sorted(Path(tmp).glob("page*.png"))]


def write_y4m(path: Path, frame: Image.Image, frames: int = 30, fps: int = 15) -> Path:
    """A YUV4MPEG2 file (4:2:0, full-range JPEG chroma siting) that Chromium's fake camera plays in a loop."""
    frame = frame.convert("RGB")
    width, height = frame.size
    if width % 2 or height % 2:
        raise ValueError("4:2:0 needs even dimensions")
    y, cb, cr = frame.convert("YCbCr").split()
    chroma = (width // 2, height // 2)
    planes = y.tobytes() + cb.resize(chroma, Image.BILINEAR).tobytes() + cr.resize(chroma, Image.BILINEAR).tobytes()
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n")
            out.write(planes)
    return path
