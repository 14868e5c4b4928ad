"""Load a realistic demo: two plants, their lines and loggers, units of several makers, lots and shipments."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from lots import services
from lots.certificates import lot_certificate, shipment_certificate
from lots.models import Analysis, Part
from plants import services as plant_services
from plants.models import Organisation, Role
from power import services as power_services
from power import synthetic

LOGINS = [
    # username, password, role, plant code, buyer organisation code
    ("manager", "moira-manager", Role.MANAGER, "kanto", None),
    ("worker", "moira-worker", Role.WORKER, "kanto", None),
    ("worker-b", "moira-worker", Role.WORKER, "kansai", None),
    ("auditor", "moira-auditor", Role.AUDITOR, "kanto", None),
    ("buyer", "moira-buyer", Role.BUYER, "kanto", "tokai-steel"),
    ("buyer-b", "moira-buyer", Role.BUYER, "kanto", "hokuriku-steel"),
]

PLANTS = [
    # code, name, closing time, lines, loggers (code, line, multiplier)
    ("kanto", "関東リサイクルセンター (A社)", dt.time(17, 30), [("shredder", "シュレッダーライン")],
     [("A-101", "shredder", D("1000")), ("A-102", "shredder", D("1")), ("A-103", "shredder", D("1"))]),
    ("kansai", "関西資源化工場 (B社)", dt.time(17, 0), [("pre-shredder", "プレシュレッダー"), ("shredder", "シュレッダー")],
     [("B-201", "pre-shredder", D("100")), ("B-203", "shredder", D("1000"))]),
]

# The parts database: (maker, selection band, unit kg, {part: (mass kg, Cu kg, Cr kg)}); values are illustrative.
PROFILES = [
    ("Sanden", (1, 30), D("310"), {"cooling_unit": ("42", "5.2", "0.60"), "remote_controller": ("3", "0.40", "0"),
                                   "coin_mech": ("5", "0.35", "0.02"), "handle_lock": ("2", "0", "0.15"), "rack": ("28", "0.90", "1.40")}),
    ("Sanden", (31, None), D("380"), {"cooling_unit": ("48", "6.0", "0.70"), "remote_controller": ("3", "0.45", "0"),
                                      "coin_mech": ("5", "0.35", "0.02"), "handle_lock": ("2", "0", "0.15"), "rack": ("36", "1.20", "1.90")}),
    ("Fuji Electric", (1, 30), D("300"), {"cooling_unit": ("40", "4.8", "0.55"), "remote_controller": ("3", "0.40", "0"),
                                          "coin_mech": ("5", "0.30", "0.02"), "handle_lock": ("2", "0", "0.12"), "rack": ("27", "0.80", "1.30")}),
    ("Fuji Electric", (31, None), D("370"), {"cooling_unit": ("46", "5.6", "0.65"), "remote_controller": ("3", "0.45", "0"),
                                             "coin_mech": ("5", "0.30", "0.02"), "handle_lock": ("2", "0", "0.12"), "rack": ("34", "1.10", "1.80")}),
    ("Panasonic", (1, None), D("330"), {"cooling_unit": ("44", "5.0", "0.60"), "coin_mech": ("5", "0.30", "0.02"),
                                        "rack": ("30", "1.00", "1.50")}),
]

UNITS = [("Sanden", "SVM-30A", 30), ("Sanden", "SVM-36B", 36), ("Fuji Electric", "FVM-24", 24),
         ("Fuji Electric", "FVM-42", 42), ("Panasonic", "NVM-30", 30)]


class Command(BaseCommand):
    help = "Load the demo plants, users, units, lots and shipments (safe to run again: it adds nothing twice)."

    def handle(self, *args, **options):
        if Organisation.objects.filter(code="demo-recycling").exists():
            self.stdout.write("Demo data is loaded already.")
        else:
            with transaction.atomic():
                self._load()
            self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        self.stdout.write("Log in at /login/ or get an API token at /api/v1/auth/token/ with:")
        for username, password, role, plant, buyer in LOGINS:
            where = f"{plant}" + (f", shipments to {buyer}" if buyer else "")
            self.stdout.write(f"  {username:<10} / {password:<14} {role} ({where})")
        self.stdout.write("  admin      / moira-admin    superuser (/admin/)")

    def _load(self):
        users = get_user_model().objects
        admin = users.filter(username="admin").first() or users.create_superuser("admin", "admin@example.com", "moira-admin")
        operator = plant_services.organisation_create(code="demo-recycling", name="デモ・リサイクル株式会社", actor=admin)
        buyers = {code: plant_services.organisation_create(code=code, name=name, actor=admin)
                  for code, name in [("tokai-steel", "東海製鋼 (Tokai Steel)"), ("hokuriku-steel", "北陸電炉 (Hokuriku Steel)")]}
        plants = {}
        for code, name, closing, lines, loggers in PLANTS:
            plant = plant_services.plant_create(organisation=operator, code=code, name=name, timezone="Asia/Tokyo",
                                                closing_time=closing, actor=admin)
            line_objs = {lc: plant_services.line_create(plant=plant, code=lc, name=ln, actor=admin) for lc, ln in lines}
            for logger_code, line_code, multiplier in loggers:
                power_services.logger_create(plant=plant, line=line_objs[line_code], code=logger_code, multiplier=multiplier, actor=admin)
            power_services.emission_factor_create(plant=plant, valid_from=dt.date(2024, 4, 1), kg_co2_per_kwh=D("0.443"),
                                                  source="Electricity supplier's adjusted factor FY2024", actor=admin)
            plants[code] = (plant, line_objs)
        for username, password, role, plant_code, buyer in LOGINS:
            user = users.filter(username=username).first() or users.create_user(username, password=password)
            plant_services.membership_grant(user=user, plant=plants[plant_code][0], role=role,
                                            buyer=buyers[buyer] if buyer else None, actor=admin)
        for plant, lines in plants.values():
            self._load_plant(plant, lines, buyers, admin)

    def _load_plant(self, plant, lines, buyers, actor):
        parts = {p.code: p for p in Part.objects.filter(kind="vending_machine")}
        for maker, (low, high), unit_kg, contents in PROFILES:
            services.model_profile_create(
                plant=plant, kind="vending_machine", maker=maker, selection_min=low, selection_max=high, unit_mass_kg=unit_kg,
                source="demo values", actor=actor,
                parts=[{"part": parts[code], "mass_kg": D(m), "cu_mass_kg": D(cu), "cr_mass_kg": D(cr)} for code, (m, cu, cr) in contents.items()],
            )
        method = services.sorting_method_create(plant=plant, code="drum-magnet", name="ドラム磁選 (drum magnet)", actor=actor)
        services.calibration_create(sorting_method=method, valid_from=dt.date(2024, 4, 1), magnetic_recovery_pct=D("82"),
                                    cu_to_magnetic_pct=D("12"), cr_to_magnetic_pct=D("45"), actor=actor, note="past operating data")
        today = timezone.localdate(timezone=plant.zone)
        labels = iter(services.labels_issue(plant=plant, count=40, actor=actor))
        lots = []
        for day, pattern in enumerate(["blank", "pattern_1", "pattern_2"]):
            received = today - dt.timedelta(days=8 - day * 2)
            intake = services.intake_create(plant=plant, slip_number=f"{plant.code.upper()}-{received:%Y%m%d}", supplier="自販機オペレーター",
                                            received_on=received, expected_count=10, actor=actor)
            products = []
            for i in range(10):
                maker, model, selections = UNITS[(i + day) % len(UNITS)]
                product = services.product_create(plant=plant, kind="vending_machine", intake=intake, maker=maker, model=model,
                                                  selection_count=selections, serial_number=f"{model[:3]}{received:%y%m}{i:04d}",
                                                  manufactured_year=2008 + i % 8, label_code=next(labels).code, actor=actor)
                shred_start = _local(plant, received + dt.timedelta(days=1), 9, 0)
                services.dismantling_record(product=product, pattern=pattern, performed_at=shred_start - dt.timedelta(hours=20), actor=actor)
                products.append(product)
            lot = services.lot_create(plant=plant, code=f"{plant.code.upper()}-{received:%m%d}-{pattern}", processed_mass_kg=D("3300"),
                                      sorting_method=method, products=products, actor=actor)
            for offset_h, line in enumerate(lines.values()):
                start = shred_start + dt.timedelta(hours=offset_h * 2)
                services.run_start(lot=lot, line=line, started_at=start, ended_at=start + dt.timedelta(minutes=25 + day), actor=actor)
            services.output_record(lot=lot, fraction="magnetic", mass_kg=D("2700") - 300 * day, weighed_at=shred_start + dt.timedelta(hours=5), actor=actor)
            services.output_record(lot=lot, fraction="dust", mass_kg=D("400"), weighed_at=shred_start + dt.timedelta(hours=5), actor=actor)
            lots.append(lot)
        Analysis.objects.create(lot=lots[0], fraction="magnetic", cu_mass_pct=D("0.13"), cr_mass_pct=D("0.19"),
                                method="handheld XRF, ~100 pieces", sampled_on=today - dt.timedelta(days=6), created_by=actor)
        shipped = _local(plant, today - dt.timedelta(days=1), 14, 0)
        shipment_a = services.shipment_create(plant=plant, buyer=buyers["tokai-steel"], shipped_at=shipped, mass_kg=D("3000"),
                                              allocations=[(lots[0], D("1500")), (lots[1], D("1500"))], code=f"{plant.code.upper()}-S1", actor=actor)
        shipment_b = services.shipment_create(plant=plant, buyer=buyers["hokuriku-steel"], shipped_at=shipped, mass_kg=D("2000"),
                                              allocations=[(lots[2], D("2000"))], code=f"{plant.code.upper()}-S2", actor=actor)
        self._load_readings(plant, lots, today)
        for lot in lots:
            lot_certificate(lot)
        shipment_certificate(shipment_a)
        shipment_certificate(shipment_b)


    def _load_readings(self, plant, lots, today):
        """A week of 1-minute logger files (06:00-18:00), through the same ingest path the crawler uses."""
        run_windows = [(run.line_id, run.started_at, run.ended_at) for lot in lots for run in lot.runs.all()]
        for logger in plant.loggers.all():
            windows = [(start, end) for line_id, start, end in run_windows if line_id == logger.line_id]
            base_w = D("2400") if logger.multiplier == 1 else D("40")  # multiplied loggers see the VT/CT secondary

            def power_w(stamp, windows=windows, base_w=base_w):
                moment = stamp.replace(tzinfo=plant.zone)
                busy = any(start <= moment <= end + dt.timedelta(minutes=1) for start, end in windows)
                return base_w * (6 if busy else 1) + (stamp.minute % 7) * base_w / 20

            for days_back in range(8, 0, -1):
                day = today - dt.timedelta(days=days_back)
                data = synthetic.day_csv(dt.datetime.combine(day, dt.time(6, 0)), 720, power_w, memo=logger.code)
                power_services.upload_ingest(logger=logger, data=data, filename=f"{day:%m%d}0000.CSV", source="crawler",
                                             remote_path=f"/PW3360/{day:%y%m%d}00/{day:%m%d}0000.CSV")
        power_services.runs_allocate(run_ids=[run.pk for lot in lots for run in lot.runs.all()])


def _local(plant, day: dt.date, hour: int, minute: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=plant.zone)
