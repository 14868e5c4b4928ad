"""Two plants of one operator with one of everything in each, for tests that walk every API endpoint."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.contrib.auth import get_user_model

from lots import selectors, services
from lots.catalogue import CATALOGUES
from lots.models import DismantlingPattern, Fraction, Part, ProductKind
from plants.models import Line, Membership, Organisation, Plant, Role
from power import services as power_services
from power.models import Logger, Upload

SHIPPED_AT = dt.datetime(2024, 5, 2, 1, 0, tzinfo=dt.UTC)
PW3360_FILE = (Path(__file__).resolve().parents[1] / "fixtures" / "pw3360" / "pw3360-3p3w-utf8.CSV").read_bytes()


@dataclass
class PlantObjects:
    """The seeded objects of one plant, by the API prefix that serves them (first the one tests write against)."""

    plant: Plant
    ids: dict[str, list[int]] = field(default_factory=dict)
    objects: dict[str, object] = field(default_factory=dict)

    def keep(self, prefix: str, obj, name: str | None = None) -> None:
        self.ids.setdefault(prefix, []).append(obj.pk)
        if name:
            self.objects[name] = obj


@dataclass
class World:
    a: PlantObjects
    b: PlantObjects
    operator: Organisation
    buyers: list[Organisation]
    # worker, manager, auditor and buyer (for buyers[0]) of plant A; other-manager of plant B; other-buyer of A for buyers[1]
    users: dict[str, object]

    def all_ids(self) -> dict[str, list[int]]:
        merged = {prefix: [*ids, *self.b.ids.get(prefix, [])] for prefix, ids in self.a.ids.items()}
        merged["organisations"] = [self.operator.pk, *(b.pk for b in self.buyers)]
        merged["parts"] = list(Part.objects.order_by("pk").values_list("pk", flat=True)[:3])
        return merged


def parts_catalogue_ensure() -> None:
    """The catalogue comes from a data migration, which a transactional test before this one may have flushed."""
    for kind, parts in CATALOGUES.items():
        for order, (code, name_ja, name_en, legal) in enumerate(parts):
            Part.objects.get_or_create(kind=kind, code=code, defaults={
                "name_ja": name_ja, "name_en": name_en, "legally_required": legal, "sort_order": order})


def _seed_plant(code: str, operator: Organisation, buyers: list[Organisation], actor) -> PlantObjects:
    plant = Plant.objects.create(organisation=operator, code=f"plant-{code}", name=f"Plant {code}", timezone="Asia/Tokyo",
                                 closing_time=dt.time(17, 30))
    seeded = PlantObjects(plant)
    seeded.keep("plants", plant)
    line = Line.objects.create(plant=plant, code="shredder", name="Shredder")
    seeded.keep("lines", line, "line")
    logger = Logger.objects.create(plant=plant, line=line, code=f"{code.upper()}-11")
    seeded.keep("loggers", logger, "logger")
    seeded.keep("power/uploads", power_services.upload_ingest(logger=logger, data=PW3360_FILE, filename="03020000.CSV",
                                                              source=Upload.Source.MANUAL, actor=actor).upload)
    seeded.keep("emission-factors", power_services.emission_factor_create(
        plant=plant, valid_from=dt.date(2024, 1, 1), kg_co2_per_kwh=Decimal("0.443"), source="utility", actor=actor))
    parts = list(Part.objects.filter(kind=ProductKind.VENDING_MACHINE).order_by("pk"))
    seeded.objects["part"] = parts[0]
    # Every part carries Cu and Cr, so the lot keeps some after dismantling and can calibrate from a blank run.
    seeded.keep("model-profiles", services.model_profile_create(
        plant=plant, kind=ProductKind.VENDING_MACHINE, maker="Sanden", model="SVM", actor=actor,
        parts=[{"part": part, "mass_kg": Decimal("40"), "cu_mass_kg": Decimal("5"), "cr_mass_kg": Decimal("0.5")} for part in parts]))
    intake = services.intake_create(plant=plant, slip_number="S-1", received_on=dt.date(2024, 5, 1), expected_count=5, actor=actor)
    seeded.keep("intakes", intake, "intake")
    labels = services.labels_issue(plant=plant, count=3, actor=actor)
    for label in labels:
        seeded.keep("labels", label)
    seeded.objects["spare_labels"] = labels[1:]
    labelled = services.product_create(plant=plant, kind=ProductKind.VENDING_MACHINE, actor=actor, intake=intake,
                                       label_code=labels[0].code, maker="Sanden", model="SVM")
    unlabelled = services.product_create(plant=plant, kind=ProductKind.VENDING_MACHINE, actor=actor, maker="Sanden", model="SVM")
    seeded.keep("products", labelled, "labelled_product")
    seeded.keep("products", unlabelled, "unlabelled_product")
    seeded.keep("dismantlings", services.dismantling_record(
        product=labelled, pattern=DismantlingPattern.PATTERN_1, performed_at=SHIPPED_AT - dt.timedelta(days=2), actor=actor),
        "dismantling")
    method = services.sorting_method_create(plant=plant, code="magnet", name="Magnet", actor=actor)
    seeded.keep("sorting-methods", method, "sorting_method")
    seeded.keep("calibrations", services.calibration_create(
        sorting_method=method, valid_from=dt.date(2024, 1, 1), magnetic_recovery_pct=Decimal("60"),
        cu_to_magnetic_pct=Decimal("10"), cr_to_magnetic_pct=Decimal("50"), actor=actor))
    lot = services.lot_create(plant=plant, code="LOT-1", processed_mass_kg=Decimal("10000"), products=[labelled],
                              sorting_method=method, actor=actor)
    open_lot = services.lot_create(plant=plant, code="LOT-2", processed_mass_kg=Decimal("5000"), actor=actor)
    seeded.keep("lots", lot, "lot")
    seeded.keep("lots", open_lot, "open_lot")
    seeded.keep("runs", services.run_start(lot=lot, line=line, started_at=SHIPPED_AT - dt.timedelta(days=1, hours=2),
                                           ended_at=SHIPPED_AT - dt.timedelta(days=1), actor=actor))
    seeded.keep("runs", services.run_start(lot=open_lot, line=line, started_at=SHIPPED_AT - dt.timedelta(hours=20), actor=actor),
                "open_run")
    seeded.keep("outputs", services.output_record(lot=lot, fraction=Fraction.MAGNETIC, mass_kg=Decimal("6000"),
                                                  weighed_at=SHIPPED_AT - dt.timedelta(hours=12), actor=actor))
    seeded.keep("analyses", services.analysis_record(lot=lot, fraction=Fraction.MAGNETIC, cu_mass_pct=Decimal("0.2"),
                                                     cr_mass_pct=Decimal("0.3"), method="XRF", sampled_on=dt.date(2024, 5, 1),
                                                     actor=actor), "analysis")
    for buyer in buyers:
        seeded.keep("shipments", services.shipment_create(plant=plant, buyer=buyer, shipped_at=SHIPPED_AT, mass_kg=Decimal("100"),
                                                          allocations=[(lot, Decimal("100"))], actor=actor))
        seeded.keep("acceptance-conditions", services.acceptance_condition_create(
            plant=plant, buyer=buyer, max_cu_mass_pct=Decimal("0.01"), actor=actor))
        # A plan that breaks the buyer's condition raises an alert the buyer sees.
        preview = selectors.shipment_preview(plant=plant, buyer=buyer, allocations=[(lot, Decimal("10"))])
        alert = services.shipment_alert_raise(plant=plant, buyer=buyer, allocations=[(lot, Decimal("10"))], preview=preview,
                                              actor=actor)
        if alert is not None:
            seeded.keep("shipment-alerts", alert)
    return seeded


def seed_world() -> World:
    parts_catalogue_ensure()
    users = get_user_model().objects
    admin = users.create_superuser("world-admin", "admin@example.com", "unused-password")
    operator = Organisation.objects.create(code="operator", name="Operator")
    buyers = [Organisation.objects.create(code=f"mill-{n}", name=f"Mill {n}") for n in "ab"]
    a, b = (_seed_plant(code, operator, buyers, admin) for code in "ab")
    people = {}
    for name, plant, role, buyer in [
        ("worker", a.plant, Role.WORKER, None), ("manager", a.plant, Role.MANAGER, None), ("auditor", a.plant, Role.AUDITOR, None),
        ("buyer", a.plant, Role.BUYER, buyers[0]), ("other-manager", b.plant, Role.MANAGER, None),
        ("other-buyer", a.plant, Role.BUYER, buyers[1]),
    ]:
        user = users.create_user(f"world-{name}", password=f"pw-{name}")
        Membership.objects.create(user=user, plant=plant, role=role, buyer=buyer)
        people[name] = user
    return World(a=a, b=b, operator=operator, buyers=buyers, users=people)
