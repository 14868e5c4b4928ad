"""The app is installable, works offline after the first visit, stays small, and speaks Japanese first."""

from __future__ import annotations

import gzip
import io
import json

import pytest
from django.test import Client
from PIL import Image

from frontend.views import precache_urls
from lots import codes
from tests.frontend.support import ARGS, CHROMIUM, PHONE, wait_controlled, wait_ready

pytestmark = pytest.mark.django_db(transaction=True)


def test_anonymous_users_are_sent_to_log_in(live_server):
    response = Client().get("/app/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/app/"


def test_manifest_and_service_worker_are_served_for_installation(worker):
    client = Client()
    manifest_response = client.get("/manifest.webmanifest")
    assert manifest_response["Content-Type"].startswith("application/manifest+json")
    manifest = json.loads(manifest_response.content)
    assert manifest["start_url"] == "/app/" and manifest["scope"] == "/" and manifest["display"] == "standalone"
    assert manifest["name"] and manifest["short_name"] and manifest["theme_color"].startswith("#")
    sizes = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in manifest["icons"]:
        image = Image.open(io.BytesIO(b"".join(client.get(icon["src"]).streaming_content)))
        assert f"{image.width}x{image.height}" == icon["sizes"] and image.format == "PNG"
    worker_response = client.get("/sw.js")
    assert worker_response["Content-Type"].startswith("application/javascript")
    assert worker_response["Cache-Control"] == "no-cache"
    script = worker_response.content.decode()
    for url in precache_urls():
        assert json.dumps(url) in script
    assert "moira-shell-" in script and 'request.method !== "GET"' in script


def test_installable_with_a_controlling_service_worker(playwright, live_server, worker, tmp_path):
    # A persistent profile: Chromium never offers to install from an incognito-like context.
    context = playwright.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM, args=ARGS,
                                                            base_url=live_server.url, **PHONE)
    try:
        page = context.pages[0] if context.pages else context.new_page()
        page.goto("/app/")
        assert "/login/" in page.url  # through the real log-in form
        page.fill("#id_username", "worker")
        page.fill("#id_password", "pw-worker")
        page.click("button[type=submit]")
        wait_ready(page)
        assert page.url.endswith("/app/")
        wait_controlled(page)
        assert page.evaluate("navigator.serviceWorker.controller.scriptURL").endswith("/sw.js")
        assert page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)") == f"{live_server.url}/"
        cdp = context.new_cdp_session(page)
        manifest = cdp.send("Page.getAppManifest")
        assert manifest["errors"] == [], manifest["errors"]
        assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
    finally:
        context.close()


def test_the_shell_opens_offline_after_the_first_visit(app, line):
    page = app.open()
    wait_controlled(page)
    page.wait_for_function("caches.has('moira-api-v1')")
    # the reference data the flows need was read through the worker, so it is cached too
    page.wait_for_function("caches.open('moira-api-v1').then(c => c.keys()).then(k => k.some(r => r.url.includes('/api/v1/lines/')))")
    app.context.set_offline(True)
    response = page.reload()
    assert response.from_service_worker and response.status == 200
    wait_ready(page)
    assert page.locator("[data-test=tile-runs]").is_visible()
    page.goto(f"{app.base_url}/app/#/runs")
    page.wait_for_selector(f"[data-test=run-start-{line.code}]")
    assert page.inner_text("[data-test=net-state]") == "オフライン"


def test_japanese_by_default_and_english_after_the_switch(app):
    page = app.open()
    assert page.evaluate("document.documentElement.lang") == "ja"
    assert page.inner_text("[data-test=tile-intake]").endswith("入荷")
    assert page.inner_text("[data-test=sync-now]") == "今すぐ送信"
    page.click("[data-test=lang-switch]")
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert page.inner_text("[data-test=tile-intake]").endswith("Intake")
    assert {c["name"]: c["value"] for c in app.context.cookies()}["django_language"] == "en"
    page.reload()
    wait_ready(page)
    assert page.inner_text("[data-test=tile-runs]").endswith("Shredder")
    assert page.title() == "Moira worker app"  # the server's template follows the switch too
    page.click("[data-test=lang-switch]")
    page.wait_for_function("document.documentElement.lang === 'ja'")
    assert page.inner_text("[data-test=tile-runs]").endswith("破砕ログ")


def test_the_label_check_in_javascript_matches_the_server(app):
    page = app.open()
    samples = [codes.new_code() for _ in range(100)]
    typos = [code[:2] + codes.ALPHABET[(codes.ALPHABET.index(code[2]) + 1) % 32] + code[3:] for code in samples]
    result = page.evaluate("""async ([good, bad]) => {
        const codes = await import("moira/codes");
        return [good.map((c) => codes.normalise(c.slice(0, 4) + "-" + c.slice(4, 8).toLowerCase() + "-" + c[8]).code),
                bad.map((c) => codes.normalise(c).ok)];
    }""", [samples, typos])
    assert result[0] == samples
    assert not any(result[1])


def test_first_load_stays_under_200_kb_compressed(worker):
    client = Client()
    client.force_login(worker)
    sizes = {}
    for url in precache_urls():
        response = client.get(url)
        assert response.status_code == 200, url
        body = b"".join(response.streaming_content) if response.streaming else response.content
        compressible = not response["Content-Type"].startswith("image/")
        sizes[url] = len(gzip.compress(body, 9)) if compressible else len(body)
    total = sum(sizes.values())
    assert total < 200 * 1024, sorted(sizes.items(), key=lambda kv: -kv[1])
