"""CONTRACT §3 through the API, as a script or an acceptance check would use it."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from plants.models import Membership, Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(db):
    get_user_model().objects.create_superuser("root", "root@example.com", "root-pass")
    client = APIClient()
    token = client.post("/api/v1/auth/token/", {"username": "root", "password": "root-pass"}, format="json").json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def post(client, path, body):
    response = client.post(f"/api/v1/{path}", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_token_login_rejects_a_wrong_password(db, make_user):
    make_user("alice")
    response = APIClient().post("/api/v1/auth/token/", {"username": "alice", "password": "nope"}, format="json")
    assert response.status_code == 400


def test_anonymous_requests_are_refused():
    assert APIClient().get("/api/v1/lots/").status_code in (401, 403)


def test_schema_and_docs_are_served(admin_client):
    schema = admin_client.get("/api/v1/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/lots/{id}/certificate/" in schema.content
    assert admin_client.get("/api/v1/docs/").status_code == 200


def test_whole_contract_flow_from_plant_to_shipment_certificate(admin_client):
    operator = post(admin_client, "organisations/", {"code": "op", "name": "Operator"})
    buyer = post(admin_client, "organisations/", {"code": "mill", "name": "Steel Mill"})
    plant = post(admin_client, "plants/", {"code": "p1", "name": "Plant 1", "timezone": "Asia/Tokyo",
                                           "closing_time": "17:30", "organisation": operator["id"]})
    assert plant["closing_time"] == "17:30"
    factor = post(admin_client, "emission-factors/", {"plant": plant["id"], "valid_from": "2024-04-01",
                                                       "kg_co2_per_kwh": "0.443", "source": "utility 2024"})
    assert factor["kg_co2_per_kwh"] == "0.443000"
    line = post(admin_client, "lines/", {"plant": plant["id"], "code": "shredder", "name": "Shredder"})
    logger = post(admin_client, "loggers/", {"plant": plant["id"], "line": line["id"], "code": "A-11"})
    assert logger["multiplier"] == "1.000000"
    product = post(admin_client, "products/", {"plant": plant["id"], "kind": "vending_machine", "maker": "Sanden",
                                               "model": "VMX", "selection_count": 30})
    lot = post(admin_client, "lots/", {"plant": plant["id"], "code": "LOT-1", "processed_mass_kg": "9800.5",
                                       "products": [product["id"]]})
    assert lot["products"] == [product["id"]]
    assert lot["processed_mass_kg"] == "9800.500"
    run = post(admin_client, f"lots/{lot['id']}/runs/", {"line": line["id"], "started_at": "2024-05-01T09:00:00+09:00",
                                                         "ended_at": "2024-05-01T09:25:00+09:00"})
    assert run["started_at"] == "2024-05-01T00:00:00Z"
    shipment = post(admin_client, "shipments/", {"plant": plant["id"], "buyer": buyer["id"],
                                                 "shipped_at": "2024-05-02T10:00:00+09:00", "mass_kg": "5000",
                                                 "allocations": [{"lot": lot["id"], "mass_kg": "5000"}]})
    assert shipment["allocations"] == [{"lot": lot["id"], "mass_kg": "5000.000"}]

    for path in ("plants/", "emission-factors/", "lines/", "loggers/", "lots/", "shipments/"):
        listing = admin_client.get(f"/api/v1/{path}").json()
        assert listing["count"] == 1, path

    certificate = admin_client.get(f"/api/v1/lots/{lot['id']}/certificate/").json()
    for field in ("energy_kwh", "energy_kwh_per_t", "co2_kg", "co2_t_per_t", "co2_kg_per_unit", "power_coverage_pct",
                  "cu_mass_pct", "cr_mass_pct", "grade_label", "digest"):
        assert field in certificate
    assert len(certificate["digest"]) == 64
    assert certificate["cu_mass_pct"] is None  # no parts database entry: unknown, never zero
    assert any("parts database" in item for item in certificate["missing"])

    shipment_certificate = admin_client.get(f"/api/v1/shipments/{shipment['id']}/certificate/").json()
    assert shipment_certificate["lots"][0]["certificate_digest"] == certificate["digest"]
    verify = APIClient().get(f"/verify/{shipment_certificate['digest']}?format=json")
    assert verify.status_code == 200
    assert verify.json()["shipment"]["mass_kg"] == "5000.000"


def test_manager_who_creates_a_plant_manages_it(manager_api, manager, operator):
    created = post(manager_api, "plants/", {"code": "new-plant", "name": "New", "timezone": "Europe/Berlin", "closing_time": "16:00"})
    assert created["organisation"] == operator.pk
    assert Membership.objects.get(user=manager, plant_id=created["id"]).role == Role.MANAGER


def test_plant_rejects_an_unknown_time_zone(manager_api):
    response = manager_api.post("/api/v1/plants/", {"code": "x", "name": "X", "timezone": "Mars/Olympus", "closing_time": "16:00"}, format="json")
    assert response.status_code == 400
    assert "timezone" in response.json()


def test_duplicate_codes_are_field_errors(manager_api, plant, line):
    response = manager_api.post("/api/v1/lines/", {"plant": plant.pk, "code": line.code, "name": "again"}, format="json")
    assert response.status_code == 400
    assert "exists already" in response.json()["code"][0]
