"""Reads of the power data: a run's metered energy (SQL aggregate plus pro-rata edges) and CO2 figures."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import DecimalField, F, Q, Sum
from django.utils import timezone

from moira.units import quantize
from power import calc
from power.models import EmissionFactor, Reading, SyncPair


def run_energy(run) -> calc.RunEnergy:
    """Energy of a finished run on its line's loggers; rows straddling the edges count pro rata."""
    start, end = run.started_at, run.ended_at
    loggers = list(run.line.loggers.all())
    # No PW3360 interval exceeds an hour, which bounds the (logger, time) index range on both sides.
    readings = Reading.objects.filter(logger__line_id=run.line_id, energy_wh__isnull=False, time__gt=start,
                                      time__lt=end + dt.timedelta(hours=1))
    inside = readings.filter(start_time__gte=start, time__lte=end).aggregate(
        wh=Sum(F("energy_wh") * F("logger__multiplier"), output_field=DecimalField(max_digits=30, decimal_places=9)),
        seconds=Sum("interval_s"),
    )
    edges = readings.filter(Q(start_time__lt=start, time__gt=start) | Q(start_time__lt=end, time__gt=end)).values_list(
        "start_time", "time", "energy_wh", "logger__multiplier")
    edge_wh, edge_s = calc.edge_energy_wh(
        (calc.Row(start=s, end=e, energy_wh=wh * multiplier) for s, e, wh, multiplier in edges), start, end)
    return calc.run_energy(
        inside_wh=inside["wh"] or Decimal("0"), inside_s=Decimal(inside["seconds"] or 0), edge_wh=edge_wh, edge_s=edge_s,
        duration_s=Decimal(str((end - start).total_seconds())), logger_count=len(loggers),
    )


def emission_factor_on(plant, day: dt.date) -> EmissionFactor | None:
    return plant.emission_factors.filter(valid_from__lte=day).order_by("-valid_from").first()


def _text(value) -> str | None:
    return None if value is None else str(value)


def _sync_pairs_around(logger, moment: dt.datetime) -> list[int]:
    before = SyncPair.objects.filter(logger=logger, logger_time__lte=moment).order_by("-logger_time").values_list("id", flat=True).first()
    after = SyncPair.objects.filter(logger=logger, logger_time__gt=moment).order_by("logger_time").values_list("id", flat=True).first()
    return [pk for pk in (before, after) if pk is not None]


def lot_power(lot) -> tuple[dict, dict, list[str]]:
    """Return the certificate's energy figures, their per-run inputs, and what is missing."""
    plant = lot.plant
    runs, totals, missing = [], [], []
    co2_total, co2_known = Decimal("0"), True
    lot_runs = list(lot.runs.select_related("line").order_by("started_at", "pk"))
    for run in lot_runs:
        if run.ended_at is None:
            missing.append(f"run on {run.line.code} from {run.started_at.isoformat()} has not been stopped")
            continue
        figures = run_energy(run)
        totals.append(figures)
        day = timezone.localtime(run.started_at, plant.zone).date()
        factor = emission_factor_on(plant, day)
        run_co2 = calc.co2_kg(figures.energy_kwh, factor.kg_co2_per_kwh if factor else None)
        if factor is None:
            missing.append(f"no emission factor valid on {day} for plant {plant.code}")
        if run_co2 is None:
            co2_known = False
        else:
            co2_total += run_co2
        loggers = list(run.line.loggers.order_by("code"))
        if not loggers:
            missing.append(f"line {run.line.code} has no logger")
        elif figures.coverage_pct < 100:
            missing.append(f"logger data covers {figures.coverage_pct} % of the run on {run.line.code} from {run.started_at.isoformat()}")
        runs.append({
            "line": run.line.code,
            "started_at": run.started_at.isoformat(),
            "ended_at": run.ended_at.isoformat(),
            "energy_kwh": _text(figures.energy_kwh),
            "coverage_pct": _text(figures.coverage_pct),
            "loggers": [{"code": lg.code, "multiplier": _text(lg.multiplier), "multiplier_kind": lg.multiplier_kind,
                         "clock_version": lg.clock_version, "sync_pairs": _sync_pairs_around(lg, run.started_at)} for lg in loggers],
            "emission_factor": None if factor is None else {
                "id": factor.pk, "valid_from": factor.valid_from.isoformat(), "kg_co2_per_kwh": _text(factor.kg_co2_per_kwh),
                "source": factor.source},
            "co2_kg": _text(run_co2),
        })
    combined = calc.combine(totals)
    if not lot_runs:
        missing.append("the lot has no metered run")
    energy = combined.energy_kwh if totals else None
    co2 = co2_total if (energy is not None and co2_known) else None
    unit_count = lot.products.count()
    figures = {
        "energy_kwh": _text(energy),
        "energy_kwh_per_t": _text(calc.per_tonne(energy, lot.processed_mass_kg, 2)),
        "co2_kg": _text(None if co2 is None else quantize(co2, 2)),
        "co2_t_per_t": _text(None if co2 is None else calc.per_tonne(co2 / 1000, lot.processed_mass_kg, 4)),
        "co2_kg_per_unit": _text(None if co2 is None or unit_count == 0 else quantize(co2 / unit_count, 2)),
        "power_coverage_pct": _text(combined.coverage_pct if totals else None),
    }
    return figures, {"runs": runs, "method": calc.METHOD_VERSION}, missing
