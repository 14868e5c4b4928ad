"""Browser tests of the workers' app: Playwright for Python driving Debian's Chromium (never a downloaded browser)."""

from __future__ import annotations

import os

import pytest

from lots.catalogue import CATALOGUES
from lots.models import Part
from tests.frontend.support import ARGS, CHROMIUM, PHONE, login_cookie, wait_ready

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None


@pytest.fixture(scope="module")
def playwright():
    if sync_playwright is None:
        pytest.skip("Playwright for Python is not installed: .venv/bin/pip install playwright (never `playwright install`)")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    # Playwright's sync API keeps an event loop in this thread; the ORM calls of the tests are still synchronous.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as runner:
            yield runner
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def browser(playwright):
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def catalogue(db):
    """The parts catalogue comes from a data migration, which transactional tests flush away: put it back."""
    for kind, parts in CATALOGUES.items():
        for order, (code, name_ja, name_en, legal) in enumerate(parts):
            Part.objects.get_or_create(kind=kind, code=code, defaults={
                "name_ja": name_ja, "name_en": name_en, "legally_required": legal, "sort_order": order})


class App:
    """A phone-sized browser context logged in as one user, and the pages opened in it."""

    def __init__(self, context, base_url: str):
        self.context = context
        self.base_url = base_url
        self.errors: list[str] = []

    def open(self, fragment: str = "", page=None):
        page = page or self.context.new_page()
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.goto(f"{self.base_url}/app/{fragment}")
        wait_ready(page)
        return page


@pytest.fixture
def make_app(browser, live_server):
    contexts = []

    def make(user, **options):
        context = browser.new_context(base_url=live_server.url, **{**PHONE, **options})
        context.add_cookies([login_cookie(user, live_server.url)])
        contexts.append(context)
        return App(context, live_server.url)

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def app(make_app, worker, catalogue):
    made = make_app(worker)
    yield made
    assert not made.errors, f"uncaught errors in the page: {made.errors}"
