"""Bad input gets a 400 that names the field, and nothing already accepted is lost."""

import datetime as dt

import pytest

from lots.models import Label, LabelStatus, Lot, Product, ProductStatus, Relabelling
from plants.models import Line

pytestmark = pytest.mark.django_db


def post(api, path, body):
    return api.post(f"/api/v1/{path}", body, format="json")


def created(api, path, body):
    response = post(api, path, body)
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.fixture
def lot(worker_api, plant):
    return created(worker_api, "lots/", {"plant": plant.pk, "code": "LOT-1", "processed_mass_kg": "10000"})


@pytest.fixture
def product(worker_api, plant):
    return created(worker_api, "products/", {"plant": plant.pk, "kind": "vending_machine", "maker": "Sanden", "selection_count": 30})


def test_naive_datetime_is_rejected_by_field(worker_api, lot, line):
    response = post(worker_api, f"lots/{lot['id']}/runs/", {"line": line.pk, "started_at": "2024-05-01T09:00:00"})
    assert response.status_code == 400
    assert "offset" in response.json()["started_at"][0]


def test_run_that_ends_before_it_starts_is_rejected(worker_api, lot, line):
    response = post(worker_api, f"lots/{lot['id']}/runs/", {"line": line.pk, "started_at": "2024-05-01T09:00:00+09:00",
                                                            "ended_at": "2024-05-01T08:59:00+09:00"})
    assert response.status_code == 400
    assert "ended_at" in response.json()


def test_overlapping_runs_on_one_line_are_rejected_but_touching_runs_are_fine(worker_api, plant, lot, line):
    other = created(worker_api, "lots/", {"plant": plant.pk, "code": "LOT-2", "processed_mass_kg": "5000"})
    created(worker_api, f"lots/{lot['id']}/runs/", {"line": line.pk, "started_at": "2024-05-01T09:00:00+09:00",
                                                    "ended_at": "2024-05-01T10:00:00+09:00"})
    clash = post(worker_api, f"lots/{other['id']}/runs/", {"line": line.pk, "started_at": "2024-05-01T09:59:00+09:00",
                                                           "ended_at": "2024-05-01T10:30:00+09:00"})
    assert clash.status_code == 400
    assert "LOT-1" in clash.json()["started_at"][0]
    created(worker_api, f"lots/{other['id']}/runs/", {"line": line.pk, "started_at": "2024-05-01T10:00:00+09:00",
                                                      "ended_at": "2024-05-01T10:30:00+09:00"})
    second_line = Line.objects.create(plant=plant, code="pre", name="Pre-shredder")
    created(worker_api, f"lots/{other['id']}/runs/", {"line": second_line.pk, "started_at": "2024-05-01T09:30:00+09:00",
                                                      "ended_at": "2024-05-01T10:30:00+09:00"})


def test_start_and_stop_a_run_in_progress(worker_api, plant, lot, line, product):
    worker_api.post(f"/api/v1/lots/{lot['id']}/reserve/", {"products": [product["id"]]}, format="json")
    started = created(worker_api, f"lots/{lot['id']}/runs/", {"line": line.pk, "started_at": "2024-05-01T09:00:00+09:00"})
    assert started["ended_at"] is None
    assert Product.objects.get(pk=product["id"]).status == ProductStatus.SHREDDED
    assert [r["id"] for r in worker_api.get("/api/v1/runs/?open=true").json()["results"]] == [started["id"]]
    other = created(worker_api, "lots/", {"plant": plant.pk, "code": "LOT-2", "processed_mass_kg": "5000"})
    blocked = post(worker_api, f"lots/{other['id']}/runs/", {"line": line.pk, "started_at": "2024-05-01T11:00:00+09:00"})
    assert "still running" in blocked.json()["started_at"][0]
    early = post(worker_api, f"runs/{started['id']}/stop/", {"ended_at": "2024-05-01T08:00:00+09:00"})
    assert early.status_code == 400 and "ended_at" in early.json()
    stopped = worker_api.post(f"/api/v1/runs/{started['id']}/stop/", {"ended_at": "2024-05-01T09:25:30+09:00"}, format="json")
    assert stopped.status_code == 200
    assert stopped.json()["ended_at"] == "2024-05-01T00:25:30Z"
    again = post(worker_api, f"runs/{started['id']}/stop/", {"ended_at": "2024-05-01T09:30:00+09:00"})
    assert "stopped already" in again.json()["ended_at"][0]


def test_future_start_is_rejected(worker_api, lot, line):
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)).isoformat()
    response = post(worker_api, f"lots/{lot['id']}/runs/", {"line": line.pk, "started_at": future})
    assert "future" in response.json()["started_at"][0]


@pytest.mark.parametrize(
    ("path", "field", "value"),
    [
        ("products/", "unit_mass_kg", "5001"),
        ("products/", "unit_mass_kg", "-1"),
        ("lots/", "processed_mass_kg", "0"),
        ("lots/", "processed_mass_kg", "-20"),
    ],
)
def test_negative_or_absurd_masses_are_rejected(worker_api, plant, path, field, value):
    body = {"plant": plant.pk, "kind": "vending_machine", "code": "X", "processed_mass_kg": "100", field: value}
    response = post(worker_api, path, body)
    assert response.status_code == 400
    assert field in response.json()


def test_shipment_over_40_tonnes_is_rejected(worker_api, plant, lot, buyer_org):
    response = post(worker_api, "shipments/", {"plant": plant.pk, "buyer": buyer_org.pk, "shipped_at": "2024-05-02T10:00:00+09:00",
                                               "mass_kg": "40001", "allocations": [{"lot": lot["id"], "mass_kg": "40001"}]})
    assert response.status_code == 400
    assert "mass_kg" in response.json()


def test_shipment_heavier_than_what_its_lots_have_left(worker_api, plant, lot, buyer_org):
    body = {"plant": plant.pk, "buyer": buyer_org.pk, "shipped_at": "2024-05-02T10:00:00+09:00"}
    created(worker_api, "shipments/", {**body, "mass_kg": "6000", "allocations": [{"lot": lot["id"], "mass_kg": "6000"}]})
    response = post(worker_api, "shipments/", {**body, "mass_kg": "4500", "allocations": [{"lot": lot["id"], "mass_kg": "4500"}]})
    assert response.status_code == 400
    assert "4000.000 kg left" in response.json()["allocations"][0]
    mismatch = post(worker_api, "shipments/", {**body, "mass_kg": "3000", "allocations": [{"lot": lot["id"], "mass_kg": "2000"}]})
    assert "add up to" in mismatch.json()["mass_kg"][0]


def test_weighed_magnetic_output_bounds_what_can_ship(worker_api, plant, lot, buyer_org):
    created(worker_api, "outputs/", {"lot": lot["id"], "fraction": "magnetic", "mass_kg": "7000", "weighed_at": "2024-05-01T12:00:00+09:00"})
    response = post(worker_api, "shipments/", {"plant": plant.pk, "buyer": buyer_org.pk, "shipped_at": "2024-05-02T10:00:00+09:00",
                                               "mass_kg": "7500", "allocations": [{"lot": lot["id"], "mass_kg": "7500"}]})
    assert "7000.000 kg left" in response.json()["allocations"][0]


def test_outputs_cannot_outweigh_the_processed_mass(worker_api, lot):
    created(worker_api, "outputs/", {"lot": lot["id"], "fraction": "magnetic", "mass_kg": "8000", "weighed_at": "2024-05-01T12:00:00+09:00"})
    again = post(worker_api, "outputs/", {"lot": lot["id"], "fraction": "magnetic", "mass_kg": "10", "weighed_at": "2024-05-01T12:00:00+09:00"})
    assert "weighed already" in again.json()["fraction"][0]
    too_heavy = post(worker_api, "outputs/", {"lot": lot["id"], "fraction": "dust", "mass_kg": "3000", "weighed_at": "2024-05-01T12:00:00+09:00"})
    assert "more than the 10000.000 kg processed" in too_heavy.json()["mass_kg"][0]


def test_a_product_goes_into_one_lot_only(worker_api, plant, lot, product):
    assert post(worker_api, f"lots/{lot['id']}/reserve/", {"products": [product["id"]]}).status_code == 200
    response = post(worker_api, "lots/", {"plant": plant.pk, "code": "LOT-2", "processed_mass_kg": "100", "products": [product["id"]]})
    assert response.status_code == 400
    assert "in lot LOT-1 already" in response.json()["products"][0]
    assert not Lot.objects.filter(code="LOT-2").exists()  # the whole create is rolled back


def test_a_shredded_product_cannot_be_dismantled(worker_api, lot, line, product):
    post(worker_api, f"lots/{lot['id']}/reserve/", {"products": [product["id"]]})
    created(worker_api, f"lots/{lot['id']}/runs/", {"line": line.pk, "started_at": "2024-05-01T09:00:00+09:00"})
    response = post(worker_api, "dismantlings/", {"product": product["id"], "pattern": "blank", "performed_at": "2024-05-01T10:00:00+09:00"})
    assert response.status_code == 400
    assert "shredded" in response.json()["product"][0]


def test_dismantling_records_the_patterns_preset_parts_and_refuses_a_part_twice(worker_api, product):
    record = created(worker_api, "dismantlings/", {"product": product["id"], "pattern": "pattern_1", "performed_at": "2024-05-01T10:00:00+09:00"})
    assert sorted(p["code"] for p in record["parts"]) == ["battery", "cooling_unit", "fluorescent_lamp", "fluorocarbons"]
    cooling = next(p["part"] for p in record["parts"] if p["code"] == "cooling_unit")
    again = post(worker_api, "dismantlings/", {"product": product["id"], "pattern": "custom", "performed_at": "2024-05-01T10:05:00+09:00",
                                               "parts": [{"part": cooling}]})
    assert "cooling_unit" in again.json()["parts"][0]


def test_label_codes_unknown_reused_or_mistyped_are_rejected(worker_api, plant, product):
    issued = created(worker_api, "labels/", {"plant": plant.pk, "count": 2})
    first, second = issued[0]["code"], issued[1]["code"]
    assert post(worker_api, f"products/{product['id']}/label/", {"code": issued[0]["display"]}).status_code == 200
    other = created(worker_api, "products/", {"plant": plant.pk, "kind": "vending_machine"})
    reused = post(worker_api, f"products/{other['id']}/label/", {"code": first})
    assert "never reused" in reused.json()["code"][0]
    typo = first[:-1] + ("0" if first[-1] != "0" else "1")
    assert "check symbol" in post(worker_api, f"products/{other['id']}/label/", {"code": typo}).json()["code"][0]
    unknown = "ABCDEFGH"
    from lots.codes import check_symbol

    assert "unknown" in post(worker_api, f"products/{other['id']}/label/", {"code": unknown + check_symbol(unknown)}).json()["code"][0]
    assert post(worker_api, f"products/{other['id']}/label/", {"code": second}).status_code == 200


def test_relabelling_retires_the_old_code_and_keeps_the_reason(worker_api, plant, product):
    old, new = (label["code"] for label in created(worker_api, "labels/", {"plant": plant.pk, "count": 2}))
    post(worker_api, f"products/{product['id']}/label/", {"code": old})
    no_reason = post(worker_api, f"products/{product['id']}/relabel/", {"new_code": new, "reason": ""})
    assert "reason" in no_reason.json()
    relabel = created(worker_api, f"products/{product['id']}/relabel/", {"new_code": new, "reason": "faded by sun"})
    assert (relabel["old_code"], relabel["new_code"]) == (old, new)
    assert Label.objects.get(code=old).status == LabelStatus.RETIRED
    assert Relabelling.objects.get().reason == "faded by sun"
    found = worker_api.get(f"/api/v1/products/?label={new}").json()["results"]
    assert [p["id"] for p in found] == [product["id"]]
    stale = worker_api.get(f"/api/v1/products/?label={old}")
    assert stale.status_code == 400 and "replaced" in stale.json()["code"][0]


def test_product_registered_with_its_label_in_one_step(worker_api, plant):
    code = created(worker_api, "labels/", {"plant": plant.pk, "count": 1})[0]["code"]
    product = created(worker_api, "products/", {"plant": plant.pk, "kind": "vehicle", "maker": "Toyota", "model": "Prius",
                                                "vin": "ZVW30-1234567", "manufactured_year": 2011, "label": code})
    assert product["label"].replace("-", "") == code
    bad = post(worker_api, "products/", {"plant": plant.pk, "kind": "vehicle", "label": "nonsense"})
    assert bad.status_code == 400 and "label" in bad.json()
    assert Product.objects.count() == 1  # the product with the bad label was not kept half-made


def test_intake_slip_bounds_the_units_registered_under_it(worker_api, plant):
    intake = created(worker_api, "intakes/", {"plant": plant.pk, "slip_number": "S-001", "received_on": "2024-05-01", "expected_count": 1})
    created(worker_api, "products/", {"plant": plant.pk, "intake": intake["id"], "kind": "vending_machine"})
    extra = post(worker_api, "products/", {"plant": plant.pk, "intake": intake["id"], "kind": "vending_machine"})
    assert "all are registered" in extra.json()["intake"][0]
    assert "registered already" in str(post(worker_api, "intakes/", {"plant": plant.pk, "slip_number": "S-001", "received_on": "2024-05-01",
                                                         "expected_count": 3}).json())
