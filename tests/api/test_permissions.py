"""Every object belongs to a plant: users see their plants only, buyers only their shipments."""

import datetime as dt
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from lots import services
from lots.models import Lot
from plants.models import Role
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

LIST_PATHS = ["plants/", "lines/", "loggers/", "emission-factors/", "model-profiles/", "intakes/", "labels/", "products/",
              "dismantlings/", "sorting-methods/", "calibrations/", "lots/", "runs/", "outputs/", "analyses/", "shipments/"]


@pytest.fixture
def world(plant, other_plant, line, buyer_org, other_buyer_org, manager):
    """A lot in each plant and a shipment from plant A to each buyer."""
    lot = services.lot_create(plant=plant, code="A-LOT", processed_mass_kg=Decimal("10000"), actor=manager)
    other_lot = Lot.objects.create(plant=other_plant, code="B-LOT", processed_mass_kg=Decimal("100"))
    shipped = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    to_a = services.shipment_create(plant=plant, buyer=buyer_org, shipped_at=shipped, mass_kg=Decimal("100"),
                                    allocations=[(lot, Decimal("100"))], actor=manager)
    to_b = services.shipment_create(plant=plant, buyer=other_buyer_org, shipped_at=shipped, mass_kg=Decimal("100"),
                                    allocations=[(lot, Decimal("100"))], actor=manager)
    return {"lot": lot, "other_lot": other_lot, "to_a": to_a, "to_b": to_b}


@pytest.fixture
def buyer_a_api(make_user, plant, buyer_org):
    return client_for(make_user("buyer-a", plant=plant, role=Role.BUYER, buyer=buyer_org))


def test_anonymous_gets_nothing(world):
    for path in LIST_PATHS:
        assert APIClient().get(f"/api/v1/{path}").status_code in (401, 403), path


def test_other_plants_objects_answer_404(other_manager_api, world):
    lot = world["lot"]
    assert other_manager_api.get(f"/api/v1/lots/{lot.pk}/").status_code == 404
    assert other_manager_api.get(f"/api/v1/lots/{lot.pk}/certificate/").status_code == 404
    assert other_manager_api.get(f"/api/v1/shipments/{world['to_a'].pk}/").status_code == 404
    codes = [row["code"] for row in other_manager_api.get("/api/v1/lots/").json()["results"]]
    assert codes == ["B-LOT"]


def test_cannot_write_into_another_plant(other_manager_api, plant, line, world):
    lot = world["lot"]
    response = other_manager_api.post(f"/api/v1/lots/{lot.pk}/runs/", {"line": line.pk, "started_at": "2024-05-01T09:00:00+09:00"}, format="json")
    assert response.status_code == 404
    response = other_manager_api.post("/api/v1/lots/", {"plant": plant.pk, "code": "X", "processed_mass_kg": "1"}, format="json")
    assert response.status_code == 400 and "plant" in response.json()
    response = other_manager_api.post("/api/v1/shipments/", {
        "plant": world["other_lot"].plant_id, "buyer": world["to_a"].buyer_id, "shipped_at": "2024-05-02T10:00:00+09:00",
        "mass_kg": "1", "allocations": [{"lot": lot.pk, "mass_kg": "1"}]}, format="json")
    assert response.status_code == 400 and "allocations" in response.json()


def test_buyer_sees_only_its_own_shipments_and_nothing_else(buyer_a_api, world):
    listing = buyer_a_api.get("/api/v1/shipments/").json()["results"]
    assert [row["id"] for row in listing] == [world["to_a"].pk]
    assert buyer_a_api.get(f"/api/v1/shipments/{world['to_b'].pk}/").status_code == 404
    assert buyer_a_api.get(f"/api/v1/shipments/{world['to_b'].pk}/certificate/").status_code == 404
    assert buyer_a_api.get(f"/api/v1/shipments/{world['to_a'].pk}/certificate/").status_code == 200
    for path in ("lots/", "products/", "runs/", "loggers/", "labels/"):
        assert buyer_a_api.get(f"/api/v1/{path}").json()["count"] == 0, path
    assert buyer_a_api.get(f"/api/v1/lots/{world['lot'].pk}/certificate/").status_code == 404
    assert [o["code"] for o in buyer_a_api.get("/api/v1/organisations/").json()["results"]] == ["steel-a"]


def test_buyer_cannot_create_anything(buyer_a_api, plant, world):
    response = buyer_a_api.post("/api/v1/lots/", {"plant": plant.pk, "code": "X", "processed_mass_kg": "1"}, format="json")
    assert response.status_code == 403


def test_auditor_reads_but_cannot_write(make_user, plant, world):
    auditor = client_for(make_user("auditor", plant=plant, role=Role.AUDITOR))
    assert auditor.get("/api/v1/lots/").json()["count"] == 1
    assert auditor.get(f"/api/v1/lots/{world['lot'].pk}/certificate/").status_code == 200
    response = auditor.post("/api/v1/lots/", {"plant": plant.pk, "code": "X", "processed_mass_kg": "1"}, format="json")
    assert response.status_code == 403


def test_worker_cannot_change_plant_setup(worker_api, plant, line):
    assert worker_api.post("/api/v1/lines/", {"plant": plant.pk, "code": "x", "name": "X"}, format="json").status_code == 403
    factor = {"plant": plant.pk, "valid_from": "2024-01-01", "kg_co2_per_kwh": "0.4", "source": "x"}
    assert worker_api.post("/api/v1/emission-factors/", factor, format="json").status_code == 403
    assert worker_api.post("/api/v1/organisations/", {"code": "x", "name": "X"}, format="json").status_code == 403


def test_session_writes_need_the_csrf_token(client, worker, plant):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(worker)
    response = browser.post("/api/v1/lots/", {"plant": plant.pk, "code": "X", "processed_mass_kg": "1"}, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


BUYER_VISIBLE = {"plants", "organisations", "shipments", "acceptance-conditions", "parts"}


def test_every_list_endpoint_hides_the_plant_from_anonymous_users_buyers_and_other_plants(world, manager_api, buyer_a_api, other_manager_api):
    """Walks the router, so an endpoint added later is covered without editing this test."""
    from moira.urls import router

    shared = {"organisations", "parts"}  # reference data every user may read
    for prefix, _, _ in router.registry:
        path = f"/api/v1/{prefix}/"
        assert APIClient().get(path).status_code in (401, 403), path
        listing = buyer_a_api.get(path)
        assert listing.status_code == 200, path
        if prefix not in BUYER_VISIBLE:
            assert listing.json()["count"] == 0, path
        if prefix not in shared:
            mine = {row["id"] for row in manager_api.get(path).json()["results"]}
            theirs = {row["id"] for row in other_manager_api.get(path).json()["results"]}
            assert not mine & theirs, path
