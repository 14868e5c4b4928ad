"""Our own API messages come back in the client's language: Japanese for the workers' app, English by default."""

import ast
import datetime as dt
import gettext
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from lots import services

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


@pytest.fixture
def stop_before_start(plant, line, worker):
    lot = services.lot_create(plant=plant, code="LOT-L", processed_mass_kg=1000, actor=worker)
    run = services.run_start(lot=lot, line=line, started_at=dt.datetime(2024, 5, 1, 0, 0, tzinfo=dt.UTC), actor=worker)
    return f"/api/v1/runs/{run.pk}/stop/", {"ended_at": "2024-04-30T08:00:00+09:00"}


def reason(client: APIClient, path: str, body: dict, **headers) -> str:
    response = client.post(path, body, format="json", **headers)
    assert response.status_code == 400
    return response.json()["ended_at"][0]


def test_the_apps_language_choice_sets_the_language_of_our_reasons(worker, stop_before_start):
    client = APIClient()
    client.force_authenticate(worker)
    path, body = stop_before_start
    assert reason(client, path, body).startswith("The stop must come after the start (2024-05-01T00:00:00+00:00)")
    assert reason(client, path, body, HTTP_ACCEPT_LANGUAGE="ja").startswith("停止は開始（2024-05-01T00:00:00+00:00）より後")
    client.cookies["django_language"] = "ja"  # what the app's language switch sets
    assert reason(client, path, body, HTTP_ACCEPT_LANGUAGE="en").startswith("停止は開始")
    client.cookies["django_language"] = "en"
    assert reason(client, path, body).startswith("The stop must come after the start")


def _messages_marked_for_translation(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_" and node.args
                and isinstance(node.args[0], ast.Constant)):
            found.add(node.args[0].value)
    return found


def test_every_message_the_workers_can_meet_has_its_japanese_text():
    with open(ROOT / "lots" / "locale" / "ja" / "LC_MESSAGES" / "django.mo", "rb") as mo:
        catalogue = gettext.GNUTranslations(mo)
    marked = set().union(*(_messages_marked_for_translation(ROOT / "lots" / name) for name in ("services.py", "selectors.py", "api.py")))
    assert len(marked) > 30
    untranslated = sorted(m for m in marked if catalogue.gettext(m) == m)
    assert not untranslated, f"add these to lots/locale/ja/LC_MESSAGES/django.po and run msgfmt: {untranslated}"
