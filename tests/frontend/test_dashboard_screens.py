"""The manager's dashboard and lot page in Chromium, in Japanese and in English, checked for the key figures."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from lots.certificates import lot_certificate
from lots.models import Lot
from tests.frontend.support import login_cookie

LANGUAGES = {"ja": ("今日", "品質等級"), "en": ("Today", "Grade")}


@pytest.fixture
def demo(transactional_db, catalogue):
    call_command("load_demo")
    return get_user_model().objects.get(username="manager")


@pytest.mark.parametrize("language", ["ja", "en"])
def test_dashboard_and_lot_page_screenshots_show_the_figures(browser, live_server, demo, language, tmp_path):
    lot = Lot.objects.filter(plant__code="kanto").order_by("code").first()
    figures = lot_certificate(lot).payload
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900}, locale="ja-JP")
    context.add_cookies([login_cookie(demo, live_server.url), {"name": "django_language", "value": language, "url": live_server.url}])
    page = context.new_page()
    page.goto("/dashboard/")
    today_word = LANGUAGES[language][0]
    assert today_word in page.inner_text("h1")
    assert "A-101" in page.inner_text("#loggers")
    page.screenshot(path=str(tmp_path / f"dashboard-{language}.png"), full_page=True)
    page.goto(f"/dashboard/lots/{lot.pk}/")
    text = page.inner_text("#figures")
    for key in ("energy_kwh", "energy_kwh_per_t", "co2_kg", "cu_mass_pct", "cr_mass_pct", "grade_label"):
        assert figures[key] in text, key
    assert LANGUAGES[language][1] in text
    assert page.locator("svg.curve").count() >= 1
    shot = tmp_path / f"lot-{language}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
    context.close()
