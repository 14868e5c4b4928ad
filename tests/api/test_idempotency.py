"""Offline replays: an Idempotency-Key makes a repeated write harmless and keeps the device's clock."""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from audit.models import IdempotentRequest
from lots.models import Lot

pytestmark = pytest.mark.django_db


@pytest.fixture
def token_client(worker):
    from rest_framework.authtoken.models import Token

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=worker).key}")
    return client


def create_lot(client, plant, key, code="LOT-1", **headers):
    return client.post("/api/v1/lots/", {"plant": plant.pk, "code": code, "processed_mass_kg": "100"}, format="json",
                       HTTP_IDEMPOTENCY_KEY=key, **headers)


def test_a_replayed_write_returns_the_first_response_and_creates_nothing_more(token_client, plant):
    first = create_lot(token_client, plant, "k-1")
    again = create_lot(token_client, plant, "k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replay"] == "true"
    assert Lot.objects.count() == 1


def test_a_rejected_write_is_replayed_as_the_same_rejection(token_client, plant):
    create_lot(token_client, plant, "k-1")
    clash = create_lot(token_client, plant, "k-2")  # same lot code, new key: a real second attempt
    assert clash.status_code == 400
    assert create_lot(token_client, plant, "k-2").json() == clash.json()


def test_a_key_reused_for_another_request_is_refused(token_client, plant):
    create_lot(token_client, plant, "k-1")
    other = token_client.post("/api/v1/intakes/", {"plant": plant.pk, "slip_number": "S", "received_on": "2024-05-01",
                                                    "expected_count": 1}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert other.status_code == 422


def test_keys_belong_to_one_credential(token_client, plant, make_user):
    from rest_framework.authtoken.models import Token

    from plants.models import Role

    create_lot(token_client, plant, "shared-key")
    colleague = APIClient()
    colleague.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=make_user('colleague', plant=plant, role=Role.WORKER)).key}")
    theirs = create_lot(colleague, plant, "shared-key", code="LOT-2")
    assert theirs.status_code == 201 and theirs.json()["code"] == "LOT-2"
    assert not theirs.has_header("Idempotent-Replay")


def test_a_request_still_running_answers_409(token_client, plant):
    import hashlib

    identity = hashlib.sha256(token_client._credentials["HTTP_AUTHORIZATION"].encode()).hexdigest()
    IdempotentRequest.objects.create(identity=identity, key="busy", method="POST", path="/api/v1/lots/")
    response = create_lot(token_client, plant, "busy")
    assert response.status_code == 409 and response["Retry-After"] == "5"
    IdempotentRequest.objects.filter(key="busy").update(created_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    assert create_lot(token_client, plant, "busy").status_code == 201  # abandoned by a dead process: run again


def test_device_clock_and_offset_are_kept_with_the_action(token_client, plant):
    create_lot(token_client, plant, "k-9", HTTP_X_DEVICE_TIME="2024-05-01T09:00:03+09:00", HTTP_X_DEVICE_CLOCK_OFFSET_MS="-2750")
    record = IdempotentRequest.objects.get(key="k-9")
    assert record.device_time == dt.datetime(2024, 5, 1, 0, 0, 3, tzinfo=dt.UTC)
    assert record.device_clock_offset_ms == -2750


def test_server_time_is_given_with_an_offset(token_client):
    body = token_client.get("/api/v1/time/").json()
    assert dt.datetime.fromisoformat(body["server_time"]).tzinfo is not None


def test_a_replay_after_logging_in_again_still_finds_the_first_answer(worker, plant):
    from django.test import Client

    browser = Client()
    browser.force_login(worker)
    first = browser.post("/api/v1/lots/", {"plant": plant.pk, "code": "L-S", "processed_mass_kg": "100"}, content_type="application/json",
                         HTTP_IDEMPOTENCY_KEY="s-1")
    browser.logout()
    browser.force_login(worker)  # a new session key
    again = browser.post("/api/v1/lots/", {"plant": plant.pk, "code": "L-S", "processed_mass_kg": "100"}, content_type="application/json",
                         HTTP_IDEMPOTENCY_KEY="s-1")
    assert first.status_code == 201 and again["Idempotent-Replay"] == "true"
    assert Lot.objects.filter(code="L-S").count() == 1
