"""Cu/Cr and grades on lot and shipment certificates, built from the parts database through the API."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from lots.models import Certificate, Part

pytestmark = pytest.mark.django_db


def created(api, path, body):
    response = api.post(f"/api/v1/{path}", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def part_id(code, kind="vending_machine"):
    return Part.objects.get(kind=kind, code=code).pk


@pytest.fixture
def sorting(manager_api, plant):
    """A sorting method whose calibration sends 10 % of Cu and 50 % of Cr to magnetics, 80 % mass recovery."""
    method = created(manager_api, "sorting-methods/", {"plant": plant.pk, "code": "mag-1", "name": "Magnet drum"})
    created(manager_api, "calibrations/", {"sorting_method": method["id"], "valid_from": "2024-01-01",
                                           "magnetic_recovery_pct": "80", "cu_to_magnetic_pct": "10", "cr_to_magnetic_pct": "50"})
    return method


@pytest.fixture
def profile(manager_api, plant):
    """Sanden machines up to 30 selections: 300 kg, Cu 5 kg and Cr 2 kg in three parts."""
    return created(manager_api, "model-profiles/", {
        "plant": plant.pk, "kind": "vending_machine", "maker": "Sanden", "selection_min": 1, "selection_max": 30,
        "unit_mass_kg": "300", "source": "FY2022 dismantling of 4 units",
        "parts": [
            {"part": part_id("cooling_unit"), "mass_kg": "40", "cu_mass_kg": "4.0", "cr_mass_kg": "0.5"},
            {"part": part_id("rack"), "mass_kg": "30", "cu_mass_kg": "0.6", "cr_mass_kg": "1.5"},
            {"part": part_id("coin_mech"), "mass_kg": "5", "cu_mass_kg": "0.4", "cr_mass_kg": "0"},
        ],
    })


def make_lot(api, plant, sorting, code, n_units, pattern):
    products = []
    for _ in range(n_units):
        product = created(api, "products/", {"plant": plant.pk, "kind": "vending_machine", "maker": "SANDEN", "selection_count": 24})
        created(api, "dismantlings/", {"product": product["id"], "pattern": pattern, "performed_at": "2024-05-01T10:00:00+09:00"})
        products.append(product["id"])
    return created(api, "lots/", {"plant": plant.pk, "code": code, "processed_mass_kg": "1000",
                                  "sorting_method": sorting["id"], "products": products})


def test_lot_certificate_estimates_cu_cr_in_magnetics_and_grades_them(manager_api, plant, sorting, profile):
    lot = make_lot(manager_api, plant, sorting, "LOT-P1", 4, "pattern_1")
    certificate = manager_api.get(f"/api/v1/lots/{lot['id']}/certificate/").json()
    # Each unit feeds Cu 5-4 = 1 kg and Cr 2-0.5 = 1.5 kg; 4 units: Cu 4 kg, Cr 6 kg.
    # Magnetics 80 % of 1000 kg = 800 kg carry Cu 0.4 kg (0.050 %) and Cr 3 kg (0.375 %).
    assert certificate["estimate"]["cu_feed_kg"] == "4.000"
    assert certificate["cu_mass_pct"] == "0.050"
    assert certificate["cr_mass_pct"] == "0.375"
    assert certificate["grade_label"] == "Cu1-Cr3"
    assert certificate["cu_cr_basis"] == "estimate"
    assert certificate["calibration"]["cu_to_magnetic_pct"] == "10.0000"
    assert certificate["products"][0]["removed_parts"] == ["battery", "cooling_unit", "fluorescent_lamp", "fluorocarbons"]
    assert certificate["missing"] == ["the lot has no metered run"]
    assert certificate["energy_kwh"] is None and certificate["power_coverage_pct"] is None


def test_blank_run_calibration_reproduces_its_analysis_and_feeds_later_lots(manager_api, plant, sorting, profile):
    blank = make_lot(manager_api, plant, sorting, "BLANK", 2, "blank")
    created(manager_api, "outputs/", {"lot": blank["id"], "fraction": "magnetic", "mass_kg": "850", "weighed_at": "2024-05-01T15:00:00+09:00"})
    analysis = created(manager_api, "analyses/", {"lot": blank["id"], "fraction": "magnetic", "cu_mass_pct": "0.13",
                                                  "cr_mass_pct": "0.19", "method": "handheld XRF, 100 pieces", "sampled_on": "2024-05-01"})
    calibration = created(manager_api, "calibrations/from-blank-run/", {"lot": blank["id"], "analysis": analysis["id"], "valid_from": "2024-05-02"})
    # Blank units keep every part: Cu 5 kg, Cr 2 kg each. d_Cu = 0.13 % x 850 kg / 10 kg = 11.05 %.
    assert calibration["magnetic_recovery_pct"] == "85.0000"
    assert calibration["cu_to_magnetic_pct"] == "11.0500"
    assert calibration["source"] == "blank_run"
    blank_certificate = manager_api.get(f"/api/v1/lots/{blank['id']}/certificate/").json()
    assert blank_certificate["cu_cr_basis"] == "analysis"
    assert blank_certificate["cu_mass_pct"] == "0.130"
    assert blank_certificate["grade_label"] == "Cu2-Cr2"

    later = make_lot(manager_api, plant, sorting, "LOT-P2", 2, "pattern_2")
    manager_api.post(f"/api/v1/lots/{later['id']}/runs/", {"line": created(manager_api, "lines/", {"plant": plant.pk, "code": "s", "name": "S"})["id"],
                                                           "started_at": "2024-05-03T09:00:00+09:00", "ended_at": "2024-05-03T09:20:00+09:00"}, format="json")
    certificate = manager_api.get(f"/api/v1/lots/{later['id']}/certificate/").json()
    assert certificate["calibration"]["source"] == "blank_run"
    # Pattern 2 removes cooling unit, rack and coin mech: nothing of the profile's Cu/Cr is left.
    assert certificate["cu_mass_pct"] == "0.000"
    assert certificate["grade_label"] == "Cu1-Cr1"


def test_unknown_model_means_unknown_grade_with_the_reason(manager_api, plant, sorting, profile):
    product = created(manager_api, "products/", {"plant": plant.pk, "kind": "vending_machine", "maker": "Fuji Electric", "selection_count": 36})
    lot = created(manager_api, "lots/", {"plant": plant.pk, "code": "LOT-X", "processed_mass_kg": "500",
                                         "sorting_method": sorting["id"], "products": [product["id"]]})
    certificate = manager_api.get(f"/api/v1/lots/{lot['id']}/certificate/").json()
    assert certificate["cu_mass_pct"] is None and certificate["grade_label"] is None
    assert "Fuji Electric" in certificate["missing"][0]


def test_certificate_is_stable_until_its_figures_change_then_superseded(manager_api, plant, sorting, profile):
    lot = make_lot(manager_api, plant, sorting, "LOT-S", 1, "blank")
    first = manager_api.get(f"/api/v1/lots/{lot['id']}/certificate/").json()
    assert manager_api.get(f"/api/v1/lots/{lot['id']}/certificate/").json()["digest"] == first["digest"]
    created(manager_api, "outputs/", {"lot": lot["id"], "fraction": "magnetic", "mass_kg": "700", "weighed_at": "2024-05-01T15:00:00+09:00"})
    second = manager_api.get(f"/api/v1/lots/{lot['id']}/certificate/").json()
    assert second["digest"] != first["digest"]
    assert second["revision"] == 2
    anonymous = APIClient()
    old = anonymous.get(f"/verify/{first['digest']}?format=json").json()
    assert old["superseded"] is True and old["current_digest"] == second["digest"]
    assert old["estimate"]["magnetic_mass_source"] == "recovery_ratio"
    page = anonymous.get(f"/verify/{first['digest']}")
    assert page.status_code == 200 and second["digest"].encode() in page.content
    assert anonymous.get("/verify/" + "0" * 64).status_code == 404
    assert Certificate.objects.filter(lot_id=lot["id"]).count() == 2


def test_shipment_certificate_weights_lots_by_allocated_mass(manager_api, plant, sorting, profile, buyer_org):
    dirty = make_lot(manager_api, plant, sorting, "LOT-D", 4, "pattern_1")   # Cu 0.050 %, Cr 0.375 %
    clean = make_lot(manager_api, plant, sorting, "LOT-C", 4, "pattern_2")   # Cu 0 %, Cr 0 %
    shipment = created(manager_api, "shipments/", {
        "plant": plant.pk, "buyer": buyer_org.pk, "shipped_at": "2024-05-05T10:00:00+09:00", "mass_kg": "800",
        "allocations": [{"lot": dirty["id"], "mass_kg": "200"}, {"lot": clean["id"], "mass_kg": "600"}],
    })
    certificate = manager_api.get(f"/api/v1/shipments/{shipment['id']}/certificate/").json()
    assert certificate["cu_mass_pct"] == "0.013"   # (200 x 0.050 + 600 x 0) / 800 = 0.0125
    assert certificate["cr_mass_pct"] == "0.094"   # 200 x 0.375 / 800 = 0.09375
    assert certificate["grade_label"] == "Cu1-Cr1"
    assert [row["lot"] for row in certificate["lots"]] == ["LOT-C", "LOT-D"]
    assert Decimal(certificate["shipment"]["mass_kg"]) == Decimal("800")
