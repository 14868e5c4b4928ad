"""Auth over the API: login throttling, revocation, CSRF, security headers, plant and buyer walls, secrets.

Already covered elsewhere, so not repeated here: anonymous refusal and the list walls of every router endpoint
(tests/api/test_permissions.py), one CSRF refusal (same file), an unknown crawler token and a revoked one on
uploads (tests/power/test_ingest.py), `check --deploy` with the production environment and the demo secret
being flagged (tests/test_settings.py), Idempotency-Key keys belonging to one credential (tests/api/test_idempotency.py),
photo size and format bounds (tests/lots/test_imaging.py).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.settings import api_settings
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from lots.models import AcceptanceCondition
from plants.models import Membership
from power.services import crawler_token_create, crawler_token_revoke
from tests.api.world import PW3360_FILE, seed_world

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_logins_and_fresh_throttles")]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def world():
    return seed_world()


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def api_operations(method: str) -> list[str]:
    """Every path of the served OpenAPI schema that takes `method`, so endpoints added later are walked too."""
    schema = APIClient().get("/api/v1/schema/?format=json").json()
    return [path for path, operations in schema["paths"].items() if method in operations]


# Login throttling -------------------------------------------------------------------------------------------------


def login_limit() -> int:
    count, _ = ScopedRateThrottle().parse_rate(api_settings.DEFAULT_THROTTLE_RATES["login"])
    return count


def login(username: str, password: str, **extra):
    return APIClient().post("/api/v1/auth/token/", {"username": username, "password": password}, format="json", **extra)


def test_login_answers_429_after_the_limit_even_for_the_right_password(make_user):
    make_user("alice")
    for _ in range(login_limit()):
        assert login("alice", "guess").status_code == 400
    refused = login("alice", "pw-alice")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "token" not in refused.json()


def test_a_forged_x_forwarded_for_does_not_reset_the_login_count(make_user):
    make_user("alice")
    for n in range(login_limit()):
        assert login("alice", "guess", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code == 400
    assert login("alice", "pw-alice", HTTP_X_FORWARDED_FOR="203.0.113.99").status_code == 429


def test_behind_one_proxy_the_address_that_proxy_saw_is_counted(make_user, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    make_user("alice")
    for n in range(login_limit()):
        # The client forges the left part; our proxy appends the address it really saw.
        assert login("alice", "guess", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}, 192.0.2.7").status_code == 400
    assert login("alice", "pw-alice", HTTP_X_FORWARDED_FOR="10.9.9.9, 192.0.2.7").status_code == 429
    assert login("alice", "pw-alice", HTTP_X_FORWARDED_FOR="192.0.2.8").status_code == 200


# Revocation -------------------------------------------------------------------------------------------------------


def test_a_deleted_api_token_is_refused_at_once(worker):
    client = token_client(worker)
    assert client.get("/api/v1/lots/").status_code == 200
    Token.objects.filter(user=worker).delete()
    assert client.get("/api/v1/lots/").status_code == 401
    assert client.post("/api/v1/lots/", {}, format="json").status_code == 401


def test_a_deactivated_or_deleted_users_token_is_refused_at_once(worker, manager):
    worker_client, manager_client = token_client(worker), token_client(manager)
    worker.is_active = False
    worker.save(update_fields=["is_active"])
    assert worker_client.get("/api/v1/lots/").status_code == 401
    manager.delete()
    assert manager_client.get("/api/v1/lots/").status_code == 401


def test_a_removed_membership_takes_the_plants_objects_away_at_once(world):
    worker = world.users["worker"]
    client = token_client(worker)
    lot = world.a.objects["lot"]
    assert client.get(f"/api/v1/lots/{lot.pk}/").status_code == 200
    Membership.objects.filter(user=worker).delete()
    assert client.get(f"/api/v1/lots/{lot.pk}/").status_code == 404
    assert client.get("/api/v1/lots/").json()["count"] == 0
    assert client.post("/api/v1/lots/", {"plant": lot.plant_id, "code": "X", "processed_mass_kg": "1"}, format="json").status_code == 403


def test_a_revoked_crawler_token_is_refused_at_once_by_ping(plant):
    token, key = crawler_token_create(plant=plant)
    crawler = APIClient()
    crawler.credentials(HTTP_AUTHORIZATION=f"Device {key}")
    assert crawler.get("/api/v1/power/ping/").status_code == 200
    crawler_token_revoke(token=token)
    assert crawler.get("/api/v1/power/ping/").status_code == 401


# CSRF ---------------------------------------------------------------------------------------------------------------


def _concrete(path: str, world) -> str:
    resource = path.removeprefix("/api/v1/").split("/{")[0]
    return path.replace("{id}", str(world.a.ids.get(resource, [1])[0]))


def test_every_api_write_over_a_session_needs_the_csrf_token(world):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world.users["manager"])
    writes = api_operations("post")
    assert len(writes) > 20
    for path in writes:
        response = browser.post(_concrete(path, world), {}, content_type="application/json")
        assert response.status_code == 403 and "CSRF" in response.json()["detail"], path


def test_a_session_write_with_the_csrf_token_goes_through(world):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world.users["manager"])
    browser.get("/login/")
    token = browser.cookies["csrftoken"].value
    response = browser.post("/api/v1/lots/", {"plant": world.a.plant.pk, "code": "CSRF-OK", "processed_mass_kg": "1"},
                            content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201


def test_the_login_form_needs_the_csrf_token(make_user):
    make_user("alice")
    assert Client(enforce_csrf_checks=True).post("/login/", {"username": "alice", "password": "pw-alice"}).status_code == 403


# Security headers ---------------------------------------------------------------------------------------------------


def test_api_answers_and_pages_carry_the_security_headers(worker):
    client = token_client(worker)
    for response in (client.get("/api/v1/time/"), client.get("/api/v1/no-such-thing/"), Client().get("/login/"),
                     APIClient().get("/api/v1/lots/")):
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["X-Frame-Options"] == "DENY"
        assert response["Cross-Origin-Opener-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in response  # HSTS only when configured, and only over HTTPS


def test_hsts_and_the_https_redirect_follow_their_settings(settings, worker):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    settings.SECURE_SSL_REDIRECT = True
    plain = APIClient().get("/api/v1/time/")
    assert plain.status_code == 301 and plain["Location"] == "https://testserver/api/v1/time/"
    secure = token_client(worker).get("/api/v1/time/", secure=True)
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    # Behind the TLS proxy, its X-Forwarded-Proto says the client used HTTPS.
    proxied = token_client(worker).get("/api/v1/time/", HTTP_X_FORWARDED_PROTO="https")
    assert proxied.status_code == 200 and "Strict-Transport-Security" in proxied


# Plant and buyer walls on every endpoint ----------------------------------------------------------------------------

# Reference data that every signed-in user reads, whatever its plant.
SHARED = {"parts", "organisations"}
# What a buyer of plant A (for another organisation) may read of plant A: the plant itself and reference data.
OTHER_BUYER_READS = {"plants", "parts"}


def test_every_detail_read_answers_404_to_another_plant_and_to_another_buyer(world):
    mine = token_client(world.users["manager"])
    other_manager = token_client(world.users["other-manager"])
    buyer = token_client(world.users["buyer"])
    other_buyer = token_client(world.users["other-buyer"])
    reads = [path for path in api_operations("get") if "{id}" in path]
    assert len(reads) > 15
    for path in reads:
        resource = path.removeprefix("/api/v1/").split("/{")[0]
        assert resource in world.a.ids or resource in SHARED, f"seed a {resource} in tests/api/world.py"
        if resource in SHARED:
            continue
        url = _concrete(path, world)
        assert mine.get(url).status_code == 200, url
        assert other_manager.get(url).status_code == 404, url
        if resource not in OTHER_BUYER_READS:
            assert other_buyer.get(url).status_code == 404, url
    # Buyer A does see its own shipment, condition and alert, so the 404s above are walls, not missing data.
    for resource in ("shipments", "acceptance-conditions", "shipment-alerts"):
        assert buyer.get(f"/api/v1/{resource}/{world.a.ids[resource][0]}/").status_code == 200, resource
        assert other_buyer.get(f"/api/v1/{resource}/{world.a.ids[resource][0]}/").status_code == 404, resource
    assert other_buyer.get(f"/api/v1/organisations/{world.buyers[0].pk}/").status_code == 404


def _png() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "white").save(buffer, format="PNG")
    return SimpleUploadedFile("photo.png", buffer.getvalue(), content_type="image/png")


def _write_bodies(world) -> dict[str, tuple[str, dict]]:
    """A valid write for plant A's manager on every write operation that targets a plant's objects."""
    a = world.a
    objects, plant = a.objects, a.plant.pk
    labels = objects["spare_labels"]
    allocation = [{"lot": objects["lot"].pk, "mass_kg": "10"}]
    return {
        "/api/v1/lines/": ("json", {"plant": plant, "code": "x-line", "name": "X"}),
        "/api/v1/loggers/": ("json", {"plant": plant, "line": objects["line"].pk, "code": "A-99"}),
        "/api/v1/emission-factors/": ("json", {"plant": plant, "valid_from": "2024-06-01", "kg_co2_per_kwh": "0.5", "source": "x"}),
        "/api/v1/model-profiles/": ("json", {"plant": plant, "kind": "vending_machine", "maker": "Fuji", "model": "F1",
                                             "parts": [{"part": objects["part"].pk, "cu_mass_kg": "1", "cr_mass_kg": "0.1"}]}),
        "/api/v1/intakes/": ("json", {"plant": plant, "slip_number": "S-9", "received_on": "2024-05-01", "expected_count": 1}),
        "/api/v1/labels/": ("json", {"plant": plant, "count": 1}),
        "/api/v1/products/": ("json", {"plant": plant, "kind": "vending_machine", "maker": "Sanden", "intake": objects["intake"].pk}),
        "/api/v1/products/{id}/label/": ("json", {"code": labels[0].code}),
        "/api/v1/products/{id}/relabel/": ("json", {"new_code": labels[1].code, "reason": "torn"}),
        "/api/v1/dismantlings/": ("json", {"product": objects["unlabelled_product"].pk, "pattern": "pattern_1",
                                           "performed_at": "2024-05-01T09:00:00+09:00"}),
        "/api/v1/dismantlings/{id}/photos/": ("multipart", {"image": _png}),
        "/api/v1/sorting-methods/": ("json", {"plant": plant, "code": "eddy", "name": "Eddy current"}),
        "/api/v1/calibrations/": ("json", {"sorting_method": objects["sorting_method"].pk, "valid_from": "2024-06-01",
                                           "magnetic_recovery_pct": "50", "cu_to_magnetic_pct": "10", "cr_to_magnetic_pct": "40"}),
        "/api/v1/calibrations/from-blank-run/": ("json", {"lot": objects["lot"].pk, "analysis": objects["analysis"].pk,
                                                          "valid_from": "2024-06-02"}),
        "/api/v1/lots/": ("json", {"plant": plant, "code": "LOT-9", "processed_mass_kg": "100"}),
        "/api/v1/lots/{id}/reserve/": ("json", {"products": [objects["unlabelled_product"].pk]}),
        "/api/v1/lots/{id}/runs/": ("json", {"line": objects["line"].pk, "started_at": "2024-04-01T09:00:00+09:00",
                                             "ended_at": "2024-04-01T09:30:00+09:00"}),
        "/api/v1/runs/{id}/stop/": ("json", {"ended_at": "2024-05-01T06:00:00+00:00"}),
        "/api/v1/outputs/": ("json", {"lot": objects["open_lot"].pk, "fraction": "magnetic", "mass_kg": "100",
                                      "weighed_at": "2024-05-02T09:00:00+09:00"}),
        "/api/v1/analyses/": ("json", {"lot": objects["lot"].pk, "fraction": "dust", "cu_mass_pct": "0.1", "cr_mass_pct": "0.1",
                                       "method": "XRF", "sampled_on": "2024-05-02"}),
        "/api/v1/shipments/": ("json", {"plant": plant, "buyer": world.buyers[0].pk, "shipped_at": "2024-05-03T10:00:00+09:00",
                                        "mass_kg": "10", "allocations": allocation}),
        "/api/v1/shipments/preview/": ("json", {"plant": plant, "buyer": world.buyers[0].pk, "allocations": allocation}),
        "/api/v1/acceptance-conditions/": ("json", {"plant": plant, "buyer": world.buyers[0].pk, "max_cr_mass_pct": "0.5"}),
        "/api/v1/power/uploads/": ("multipart", {"plant": plant, "logger": objects["logger"].code,
                                                 "file": lambda: SimpleUploadedFile("03020000.CSV", PW3360_FILE, content_type="text/csv")}),
        "/api/v1/nameplates/": ("multipart", {"image": _png, "product": objects["unlabelled_product"].pk}),
    }


# Writes that target no plant's objects, and why.
NOT_PLANT_WRITES = {
    "/api/v1/auth/token/": "logging in",
    "/api/v1/organisations/": "organisations are shared reference data (any manager adds a buyer)",
    "/api/v1/plants/": "creates a new plant; writes into no existing one",
    "/api/v1/scans/": "decodes a photo and keeps nothing; its label lookups are limited to the user's plants",
}
# Actions on one object whose id in the path is the plant-A object they act on.
TARGETS = {"/api/v1/products/{id}/label/": "unlabelled_product", "/api/v1/products/{id}/relabel/": "labelled_product",
           "/api/v1/dismantlings/{id}/photos/": "dismantling", "/api/v1/lots/{id}/reserve/": "open_lot",
           "/api/v1/lots/{id}/runs/": "lot", "/api/v1/runs/{id}/stop/": "open_run"}


def _post(client, path: str, world, body_kind: str, body: dict):
    url = path.replace("{id}", str(world.a.objects[TARGETS[path]].pk)) if "{id}" in path else path
    if body_kind == "multipart":
        return client.post(url, {k: v() if callable(v) else v for k, v in body.items()}, format="multipart")
    return client.post(url, body, format="json")


def _row_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for app in ("plants", "lots", "power", "audit")
            for model in apps.get_app_config(app).get_models()}


def test_every_write_into_another_plant_is_refused_and_changes_nothing(world):
    bodies = _write_bodies(world)
    writes = api_operations("post")
    unlisted = [path for path in writes if path not in bodies and path not in NOT_PLANT_WRITES]
    assert not unlisted, f"add a valid plant-A body for {unlisted} to _write_bodies"
    intruder = token_client(world.users["other-manager"])
    mine = token_client(world.users["manager"])
    for path in writes:
        if path in NOT_PLANT_WRITES:
            continue
        body_kind, body = bodies[path]
        before = _row_counts()
        refused = _post(intruder, path, world, body_kind, body)
        assert refused.status_code in (400, 403, 404), (path, refused.status_code, refused.content[:300])
        assert _row_counts() == before, path
        # The same request from plant A's manager is accepted, so the refusal above is the wall, not a bad body.
        accepted = _post(mine, path, world, body_kind, body)
        assert 200 <= accepted.status_code < 300, (path, accepted.status_code, accepted.content[:300])


def test_a_buyer_cannot_set_a_condition_for_another_buyer(world):
    other_buyer = token_client(world.users["other-buyer"])
    response = other_buyer.post("/api/v1/acceptance-conditions/", {"plant": world.a.plant.pk, "buyer": world.buyers[0].pk,
                                                                   "max_cu_mass_pct": "0.05"}, format="json")
    assert response.status_code == 201
    created = AcceptanceCondition.objects.get(pk=response.json()["id"])
    assert created.buyer == world.buyers[1]
    refused = other_buyer.post("/api/v1/acceptance-conditions/", {"plant": world.b.plant.pk, "max_cu_mass_pct": "0.05"}, format="json")
    assert refused.status_code in (400, 403)


# Secrets ------------------------------------------------------------------------------------------------------------


def _django(code: str, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "SECRET_KEY_FILE", "REDIS_URL")}
    environment |= {"DJANGO_SETTINGS_MODULE": "moira.settings", "DATABASE_URL": "sqlite:///:memory:", **env}
    return subprocess.run([sys.executable, "-c", f"import django; django.setup(); from django.conf import settings; {code}"],
                          cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120)


def test_the_secret_key_can_come_from_a_file(tmp_path):
    secret = "from-a-mounted-file-" + "x" * 40
    (tmp_path / "secret").write_text(secret + "\n")
    result = _django("print(settings.SECRET_KEY)", SECRET_KEY_FILE=str(tmp_path / "secret"), SECRET_KEY="ignored-when-a-file-is-named")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == secret


def test_database_and_broker_credentials_come_from_the_environment():
    result = _django("print(settings.DATABASES['default']['PASSWORD'], settings.CELERY_BROKER_URL)",
                     DATABASE_URL="postgres://moira:db-pass-from-env@db.internal:5432/moira", REDIS_URL="redis://:redis-pass@cache:6379/0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["db-pass-from-env", "redis://:redis-pass@cache:6379/0"]
