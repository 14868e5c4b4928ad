"""The one-statement recompute of every run gives the same figures as the run-by-run path."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from lots import services as lot_services
from power import services
from power.models import Logger, RunEnergy

pytestmark = pytest.mark.django_db
UTF8 = (Path(__file__).resolve().parents[1] / "fixtures" / "pw3360" / "pw3360-3p3w-utf8.CSV").read_bytes()
JST = dt.timezone(dt.timedelta(hours=9))


def test_allocate_all_matches_run_by_run(plant, line, manager):
    from plants.models import Line

    Logger.objects.create(plant=plant, line=line, code="A-1", multiplier=Decimal("1000"))
    second = Logger.objects.create(plant=plant, line=line, code="A-2", multiplier=Decimal("10"))
    bare_line = Line.objects.create(plant=plant, code="bare", name="No logger")
    services.upload_ingest(logger=second, data=UTF8, filename="a.CSV", source="manual")
    services.upload_ingest(logger=Logger.objects.get(code="A-1"), data=UTF8[:4000], filename="b.CSV", source="manual")
    windows = [((6, 0, 30), (6, 5, 30)), ((7, 0, 0), (9, 17, 10)), ((5, 0, 0), (6, 0, 30)), ((20, 0, 0), (21, 0, 0))]
    runs = []
    for i, (start, end) in enumerate(windows):
        lot = lot_services.lot_create(plant=plant, code=f"L{i}", processed_mass_kg=Decimal("1000"), actor=manager)
        runs.append(lot_services.run_start(lot=lot, line=line, started_at=dt.datetime(2026, 3, 2, *start, tzinfo=JST),
                                           ended_at=dt.datetime(2026, 3, 2, *end, tzinfo=JST), actor=manager))
    lot = lot_services.lot_create(plant=plant, code="bare", processed_mass_kg=Decimal("1000"), actor=manager)
    runs.append(lot_services.run_start(lot=lot, line=bare_line, started_at=dt.datetime(2026, 3, 2, 6, tzinfo=JST),
                                       ended_at=dt.datetime(2026, 3, 2, 7, tzinfo=JST), actor=manager))
    services.runs_allocate(run_ids=[r.pk for r in runs])
    one_by_one = {e.run_id: (e.energy_kwh, e.covered_s, e.expected_s) for e in RunEnergy.objects.all()}
    RunEnergy.objects.all().delete()
    services.runs_allocate_all()
    at_once = {e.run_id: (e.energy_kwh, e.covered_s, e.expected_s) for e in RunEnergy.objects.all()}
    assert at_once == one_by_one
    assert one_by_one[runs[3].pk] == (None, Decimal("0"), Decimal("7200"))  # an evening run without data: unknown, not zero
    assert one_by_one[runs[4].pk] == (None, Decimal("0"), Decimal("0"))  # a line without a logger
