"""Benchmarks: each figure is a ratio against a baseline measured in the same run (see CONTRACT §6).

Runs on a scratch PostgreSQL database `moira_bench` when PostgreSQL answers on 127.0.0.1:5432 (or on
BENCH_DATABASE_URL), else on SQLite in a temporary folder, where the power benchmarks are skipped.
BENCH_SCALE (default 1) scales the power benchmarks' plant-year. Writes bench/results.json; its `load` key comes from
bench/load.py (the production stack under simulated workers; BENCH_LOAD_SECONDS per level, default 60; BENCH_LOAD=0 skips it).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _scratch_database_url() -> str:
    if os.environ.get("BENCH_DATABASE_URL"):
        return os.environ["BENCH_DATABASE_URL"]
    try:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True, connect_timeout=2) as conn:
            conn.execute("DROP DATABASE IF EXISTS moira_bench")
            conn.execute("CREATE DATABASE moira_bench")
        return "postgres://postgres@127.0.0.1:5432/moira_bench"
    except Exception:
        return f"sqlite:///{tempfile.mkdtemp(prefix='moira-bench-')}/bench.sqlite3"


os.environ["DATABASE_URL"] = _scratch_database_url()
os.environ.pop("REDIS_URL", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moira.settings")

import django

django.setup()

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection

from lots import services
from lots.models import Part, Product, RemovedPart
from lots.selectors import lot_certificate_content
from plants.models import Organisation, Plant


def p95_ms(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.quantiles(samples, n=20)[-1]


def build_lot(units: int):
    actor = get_user_model().objects.create_superuser("bench", "bench@example.com", "bench")
    plant = Plant.objects.create(organisation=Organisation.objects.create(code="bench", name="Bench"), code="bench",
                                 name="Bench", timezone="Asia/Tokyo", closing_time=dt.time(17, 30))
    parts = {p.code: p for p in Part.objects.filter(kind="vending_machine")}
    services.model_profile_create(plant=plant, kind="vending_machine", maker="Sanden", selection_min=1, selection_max=60,
                                  unit_mass_kg=Decimal("320"), actor=actor, parts=[
                                      {"part": parts[code], "mass_kg": Decimal("10"), "cu_mass_kg": Decimal("1"), "cr_mass_kg": Decimal("0.5")}
                                      for code in ("cooling_unit", "rack", "coin_mech", "handle_lock")])
    method = services.sorting_method_create(plant=plant, code="m", name="m", actor=actor)
    services.calibration_create(sorting_method=method, valid_from=dt.date(2020, 1, 1), magnetic_recovery_pct=Decimal("80"),
                                cu_to_magnetic_pct=Decimal("10"), cr_to_magnetic_pct=Decimal("40"), actor=actor)
    products = []
    for i in range(units):
        product = services.product_create(plant=plant, kind="vending_machine", maker="Sanden", selection_count=30, actor=actor)
        services.dismantling_record(product=product, pattern="pattern_1", actor=actor,
                                    performed_at=dt.datetime(2024, 5, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=i))
        products.append(product)
    return services.lot_create(plant=plant, code="BENCH", processed_mass_kg=Decimal("10000"), sorting_method=method,
                               products=products, actor=actor)


def load_figures() -> dict:
    """The load benchmark (bench/load.py) in its own process: it starts the production stack on loopback."""
    if connection.vendor != "postgresql" or os.environ.get("BENCH_LOAD") == "0":
        return {"skipped": "needs PostgreSQL and Redis" if connection.vendor != "postgresql" else "BENCH_LOAD=0"}
    import subprocess

    out = Path(tempfile.mkdtemp(prefix="moira-load-")) / "load.json"
    command = [sys.executable, str(ROOT / "bench" / "load.py"), "--out", str(out),
               "--seconds", os.environ.get("BENCH_LOAD_SECONDS", "60")]
    if subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL).returncode != 0 or not out.exists():
        return {"skipped": "bench/load.py failed; run it alone to see why"}
    return json.loads(out.read_text())


def main() -> None:
    call_command("migrate", verbosity=0)
    lot = build_lot(units=30)

    def raw_reads():
        # The least any certificate must read: the lot's products with their removed parts.
        list(Product.objects.filter(lot=lot).values_list("id", "maker", "selection_count"))
        list(RemovedPart.objects.filter(product__lot=lot).values_list("product_id", "part__code", "measured_mass_kg"))

    lot_certificate_content(lot)  # warm caches and connections for both measurements
    baseline = p95_ms(raw_reads, 200)
    value = p95_ms(lambda: lot_certificate_content(lot), 200)
    results = {}
    if connection.vendor == "postgresql":
        from bench import power

        results.update(power.run(float(os.environ.get("BENCH_SCALE", "1"))))
    else:
        print("PostgreSQL is not reachable: the power benchmarks (ingest, allocate_all, certificate_p95) are skipped.")
    from bench import images

    results |= images.run()
    results["load"] = load_figures()
    results |= {
        "lot_certificate_30_units": {"value": round(value, 3), "unit": "ms (p95)", "baseline": round(baseline, 3),
                                     "ratio": round(value / baseline, 2)},
    }
    out = ROOT / "bench" / "results.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
