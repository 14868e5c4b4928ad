"""Clock correction and the energy of a run (pure: no Django).

Interpretations (CONTRACT §4, domain notes §5.4-§5.5, §9.5):

1. A logger row stamped t holds the energy of (t - interval, t]. The energy of a run [start, end) on a line
   is the sum over the line's loggers of each row's energy x the logger's multiplier x the share of the
   row's interval that lies inside the run (rows straddling start or end count in proportion).
2. Coverage is the share of the run's logger-seconds (run duration x loggers on the line) for which a row
   with a known energy exists. Missing minutes are never filled: energy is the sum of what was measured,
   and the certificate shows the coverage beside it. With no data at all the energy is unknown (None).
3. Clock drift: a sync pair (logger clock reading, reference time) gives the offset reference - logger.
   Between two pairs the offset is interpolated linearly in logger time (the drift of a quartz clock is
   close to linear over days); before the first and after the last pair the nearest pair's offset holds.
   With no pair the logger clock is trusted (offset 0).
4. CO2 = energy x the emission factor valid on the run's plant-local start date; per tonne divides by the
   processed (lot) or shipped (shipment) mass; per unit divides a lot's CO2 equally among its products.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from moira.units import KG_PER_T, WH_PER_KWH, quantize

ZERO = Decimal("0")
METHOD_VERSION = "energy-1: overlap-proportional run sums, piecewise-linear clock correction"


@dataclass(frozen=True)
class SyncPair:
    logger_time: dt.datetime  # aware: what the logger clock read, in the plant's zone
    offset_s: Decimal  # reference minus logger


def offset_at(logger_time: dt.datetime, pairs: Sequence[SyncPair]) -> Decimal:
    """Return the clock offset (seconds) to add at `logger_time`; `pairs` sorted by logger time."""
    if not pairs:
        return ZERO
    times = [p.logger_time for p in pairs]
    i = bisect.bisect_right(times, logger_time)
    if i == 0:
        return pairs[0].offset_s
    if i == len(pairs):
        return pairs[-1].offset_s
    before, after = pairs[i - 1], pairs[i]
    span_s = Decimal(str((after.logger_time - before.logger_time).total_seconds()))
    if span_s == 0:
        return after.offset_s
    elapsed_s = Decimal(str((logger_time - before.logger_time).total_seconds()))
    return before.offset_s + (after.offset_s - before.offset_s) * elapsed_s / span_s


def corrected(logger_time: dt.datetime, pairs: Sequence[SyncPair]) -> dt.datetime:
    # Millisecond precision is plenty for 1-second to 60-minute intervals and keeps the database exact.
    offset_ms = int(quantize(offset_at(logger_time, pairs) * 1000, 0))
    return logger_time + dt.timedelta(milliseconds=offset_ms)


@dataclass(frozen=True)
class Row:
    """One reading: the interval (start, end] and its metered energy in Wh (multiplier applied)."""

    start: dt.datetime
    end: dt.datetime
    energy_wh: Decimal


def overlap_s(a_start: dt.datetime, a_end: dt.datetime, b_start: dt.datetime, b_end: dt.datetime) -> Decimal:
    seconds = (min(a_end, b_end) - max(a_start, b_start)).total_seconds()
    return Decimal(str(seconds)) if seconds > 0 else ZERO


def edge_energy_wh(rows: Iterable[Row], start: dt.datetime, end: dt.datetime) -> tuple[Decimal, Decimal]:
    """Return (energy Wh, covered seconds) of rows that straddle the run's edges, pro rata to their overlap."""
    energy = covered = ZERO
    for row in rows:
        inside = overlap_s(row.start, row.end, start, end)
        if inside:
            interval_s = Decimal(str((row.end - row.start).total_seconds()))
            energy += row.energy_wh * inside / interval_s
            covered += inside
    return energy, covered


@dataclass(frozen=True)
class RunEnergy:
    energy_kwh: Decimal | None
    covered_s: Decimal
    expected_s: Decimal

    @property
    def coverage_pct(self) -> Decimal:
        if self.expected_s <= 0:
            return ZERO
        return quantize(Decimal(100) * self.covered_s / self.expected_s, 1)


def run_energy(*, inside_wh: Decimal, inside_s: Decimal, edge_wh: Decimal, edge_s: Decimal,
               duration_s: Decimal, logger_count: int) -> RunEnergy:
    """Combine the rows wholly inside the run (summed in SQL) with the pro-rata edges."""
    covered = inside_s + edge_s
    energy = None if covered <= 0 else quantize((inside_wh + edge_wh) / WH_PER_KWH, 3)
    return RunEnergy(energy_kwh=energy, covered_s=covered, expected_s=duration_s * logger_count)


def combine(runs: Sequence[RunEnergy]) -> RunEnergy:
    known = [r.energy_kwh for r in runs if r.energy_kwh is not None]
    return RunEnergy(
        energy_kwh=sum(known, ZERO) if known else None,
        covered_s=sum((r.covered_s for r in runs), ZERO),
        expected_s=sum((r.expected_s for r in runs), ZERO),
    )


def per_tonne(value: Decimal | None, mass_kg: Decimal, places: int) -> Decimal | None:
    if value is None or mass_kg <= 0:
        return None
    return quantize(value / (mass_kg / KG_PER_T), places)


def co2_kg(energy_kwh: Decimal | None, kg_co2_per_kwh: Decimal | None) -> Decimal | None:
    if energy_kwh is None or kg_co2_per_kwh is None:
        return None
    return energy_kwh * kg_co2_per_kwh
