"""Buyers' acceptance conditions, flagged to both sides before a shipment leaves."""

import pytest
from django.test import Client

from plants.models import Role
from tests.conftest import client_for
from tests.lots.test_certificates import created, make_lot, part_id, profile, sorting  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def page_as(api_client, path: str) -> str:
    """A server-rendered page for the user an APIClient stands for (those pages use session log-in)."""
    client = Client()
    client.force_login(api_client.handler._force_user)
    return client.get(path).content.decode()


@pytest.fixture
def buyer_api(make_user, plant, buyer_org):
    return client_for(make_user("buyer-a", plant=plant, role=Role.BUYER, buyer=buyer_org))


def test_buyer_sets_a_condition_and_a_breaking_shipment_is_flagged_before_and_after(
        buyer_api, manager_api, plant, buyer_org, other_buyer_org, sorting, profile, make_user):  # noqa: F811
    condition = created(buyer_api, "acceptance-conditions/", {"plant": plant.pk, "grade_label": "Cu1-Cr2"})
    assert condition["buyer"] == buyer_org.pk
    lot = make_lot(manager_api, plant, sorting, "LOT-P1", 4, "pattern_1")   # Cu1-Cr3 (Cr 0.375 %)
    body = {"plant": plant.pk, "buyer": buyer_org.pk, "allocations": [{"lot": lot["id"], "mass_kg": "500"}]}
    preview = manager_api.post("/api/v1/shipments/preview/", body, format="json").json()
    assert preview["grade_label"] == "Cu1-Cr3"
    assert preview["acceptance"] == {"condition": condition["id"], "met": False,
                                     "problems": ["Cr grade is Cr3, Cr2 or better is required"]}
    # Before dispatch, the buyer sees the plan that breaks its condition; previewing it again raises no second alert.
    assert preview["alert"]["shipment"] is None
    again = manager_api.post("/api/v1/shipments/preview/", {**body, "allocations": [{"lot": lot["id"], "mass_kg": "500.000"}]},
                             format="json").json()
    assert again["alert"]["id"] == preview["alert"]["id"]
    alerts = buyer_api.get("/api/v1/shipment-alerts/").json()["results"]
    assert [(a["id"], a["allocations"], a["problems"]) for a in alerts] == [
        (preview["alert"]["id"], [{"lot": "LOT-P1", "mass_kg": "500.000"}], ["Cr grade is Cr3, Cr2 or better is required"])]
    portal = page_as(buyer_api, "/buyer/")
    assert 'id="alerts"' in portal and "LOT-P1 500.000 kg" in portal
    assert "LOT-P1 500.000 kg" in page_as(manager_api, "/dashboard/")
    other = client_for(make_user("buyer-b", plant=plant, role=Role.BUYER, buyer=other_buyer_org))
    assert other.get("/api/v1/shipment-alerts/").json()["count"] == 0
    assert "LOT-P1" not in page_as(other, "/buyer/")

    shipment = created(manager_api, "shipments/", {**body, "shipped_at": "2024-05-05T10:00:00+09:00", "mass_kg": "500"})
    seen_by_buyer = buyer_api.get(f"/api/v1/shipments/{shipment['id']}/certificate/").json()
    assert seen_by_buyer["acceptance"]["met"] is False
    assert buyer_api.get(f"/api/v1/shipment-alerts/{preview['alert']['id']}/").json()["shipment"] == shipment["id"]
    assert "LOT-P1 500.000 kg" not in page_as(manager_api, "/dashboard/")  # dispatched: now among the shipments flagged
    assert other.get("/api/v1/acceptance-conditions/").json()["count"] == 0
    assert manager_api.get("/api/v1/acceptance-conditions/").json()["count"] == 1


def test_a_plan_within_the_conditions_raises_no_alert(buyer_api, manager_api, plant, buyer_org, sorting, profile):  # noqa: F811
    created(buyer_api, "acceptance-conditions/", {"plant": plant.pk, "grade_label": "Cu3-Cr3"})
    lot = make_lot(manager_api, plant, sorting, "LOT-OK", 4, "pattern_1")
    body = {"plant": plant.pk, "buyer": buyer_org.pk, "allocations": [{"lot": lot["id"], "mass_kg": "500"}]}
    preview = manager_api.post("/api/v1/shipments/preview/", body, format="json").json()
    assert preview["acceptance"]["met"] is True and preview["alert"] is None
    assert buyer_api.get("/api/v1/shipment-alerts/").json()["count"] == 0


def test_a_buyer_cannot_set_conditions_for_a_plant_it_does_not_buy_from(buyer_api, other_plant):
    response = buyer_api.post("/api/v1/acceptance-conditions/", {"plant": other_plant.pk, "max_cu_mass_pct": "0.3"}, format="json")
    assert response.status_code == 400 and "plant" in response.json()


def test_a_condition_needs_a_limit_and_a_readable_grade(buyer_api, manager_api, plant, buyer_org):
    assert "non_field_errors" in buyer_api.post("/api/v1/acceptance-conditions/", {"plant": plant.pk}, format="json").json()
    assert "grade_label" in buyer_api.post("/api/v1/acceptance-conditions/", {"plant": plant.pk, "grade_label": "A"}, format="json").json()
    assert "buyer" in manager_api.post("/api/v1/acceptance-conditions/", {"plant": plant.pk, "max_cu_mass_pct": "0.3"}, format="json").json()
    assert manager_api.post("/api/v1/acceptance-conditions/", {"plant": plant.pk, "buyer": buyer_org.pk, "max_cu_mass_pct": "0.3"},
                            format="json").status_code == 201
