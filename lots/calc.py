"""Cu and Cr from the parts database to the magnetic product, grades, and shipments (pure: no Django).

The method follows the FY2022 MOE "Sorting Center 4.0" demonstration (see the domain notes §5.1-§5.3, §7).
Interpretations of the report, in the order the calculation uses them:

1. Per product u of model key k with parts catalogue P and removed parts R(u):
   X_feed(u) = sum of X over the parts the model profile lists, minus X of the removed ones (X = Cu, Cr).
   A removed part the profile does not list carried no known Cu/Cr, so it subtracts nothing.
2. The body mass fed, M_feed(u) = unit mass - masses of the removed parts (a measured mass of the part
   when the worker weighed it, else the profile's). It is informative only: unknown when the unit mass or
   the mass of a removed part is unknown.
3. The lot's feed is the sum over its products. If any product has no model profile the lot's Cu/Cr is
   unknown (None): a partial sum would understate the content, and we never invent a zero.
4. The report's sentence "multiplied by the recovery ratio and the distribution rate" (L2100-2104) is read
   with its own definitions (L224-245): the distribution rate d_X gives the element mass that reaches the
   magnetic product, X_mag = X_feed x d_X; the recovery ratio r gives the magnetic product's mass,
   M_mag = processed mass x r. The weighed magnetic output, when entered, replaces the predicted M_mag.
   The processed mass is the lot's weighed feed, which is better evidence than the database body masses.
5. Grade (mass %) = 100 x X_mag / M_mag, rounded half up to 3 decimals; the grade class is judged on the
   rounded value so that the certificate's number and its class always agree.
6. Calibration from a measured blank run (L5436-5438): r = M_mag,measured / processed mass and
   d_X = measured grade x M_mag,measured / X_feed,estimated. d_X may exceed 100 % when the database
   misses Cu/Cr parts (the report's fine harnesses); we keep it rather than clip it, so the estimate for
   later lots stays consistent with the measured blank run.
7. Grades per the draft shredder-scrap standard (§7.1): <= 0.1 % class 1, <= 0.3 % class 2, <= 1 % class 3,
   otherwise off-grade. The label prints both symbols ("Cu1-Cr2"); an off-grade element is omitted
   ("Cu2"); the standard is silent on both off-grade and we print "off-grade".
8. A shipment's grade is the allocation-mass-weighted mean of its lots' grades (§5.3); unknown when any
   allocated lot's grade is unknown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from moira.units import HUNDRED, quantize

ZERO = Decimal("0")
GRADE_LIMITS_PCT = (Decimal("0.1"), Decimal("0.3"), Decimal("1"))
PCT_PLACES = 3
METHOD_VERSION = "cu-cr-1"


@dataclass(frozen=True)
class PartContent:
    mass_kg: Decimal | None
    cu_mass_kg: Decimal
    cr_mass_kg: Decimal


@dataclass(frozen=True)
class Feed:
    cu_mass_kg: Decimal
    cr_mass_kg: Decimal
    mass_kg: Decimal | None


@dataclass(frozen=True)
class SortingRates:
    magnetic_recovery_pct: Decimal
    cu_to_magnetic_pct: Decimal
    cr_to_magnetic_pct: Decimal


@dataclass(frozen=True)
class MagneticEstimate:
    mass_kg: Decimal | None
    mass_source: str | None  # "measured" or "recovery_ratio"
    cu_mass_kg: Decimal | None
    cr_mass_kg: Decimal | None
    cu_mass_pct: Decimal | None
    cr_mass_pct: Decimal | None


def product_feed(
    *,
    parts: Mapping[str, PartContent],
    removed: Mapping[str, Decimal | None],
    unit_mass_kg: Decimal | None,
) -> Feed:
    """Return the Cu, Cr and body mass a product brings to the shredder.

    `parts` is the model profile (part code -> content); `removed` maps each removed part code to its
    measured mass, or None when it was not weighed.
    """
    cu = sum((p.cu_mass_kg for p in parts.values()), ZERO)
    cr = sum((p.cr_mass_kg for p in parts.values()), ZERO)
    mass = unit_mass_kg
    for code, measured_kg in removed.items():
        content = parts.get(code)
        if content is not None:
            cu -= content.cu_mass_kg
            cr -= content.cr_mass_kg
        removed_kg = measured_kg if measured_kg is not None else (content.mass_kg if content else None)
        mass = None if mass is None or removed_kg is None else mass - removed_kg
    return Feed(cu_mass_kg=cu, cr_mass_kg=cr, mass_kg=mass)


def lot_feed(feeds: Sequence[Feed | None]) -> Feed | None:
    """Sum the products' feeds; None when the lot has no products or any product's feed is unknown."""
    if not feeds or any(f is None for f in feeds):
        return None
    masses = [f.mass_kg for f in feeds]
    return Feed(
        cu_mass_kg=sum((f.cu_mass_kg for f in feeds), ZERO),
        cr_mass_kg=sum((f.cr_mass_kg for f in feeds), ZERO),
        mass_kg=None if any(m is None for m in masses) else sum(masses, ZERO),
    )


def grade_pct(element_kg: Decimal | None, mass_kg: Decimal | None) -> Decimal | None:
    if element_kg is None or mass_kg is None or mass_kg <= 0:
        return None
    return quantize(HUNDRED * element_kg / mass_kg, PCT_PLACES)


def magnetic_estimate(
    *,
    feed: Feed | None,
    processed_mass_kg: Decimal,
    rates: SortingRates | None,
    measured_magnetic_mass_kg: Decimal | None,
) -> MagneticEstimate:
    """Estimate the magnetic product's mass and its Cu and Cr (interpretation 4)."""
    if measured_magnetic_mass_kg is not None:
        mass, source = measured_magnetic_mass_kg, "measured"
    elif rates is not None:
        mass, source = processed_mass_kg * rates.magnetic_recovery_pct / HUNDRED, "recovery_ratio"
    else:
        mass, source = None, None
    if feed is None or rates is None:
        cu = cr = None
    else:
        cu = feed.cu_mass_kg * rates.cu_to_magnetic_pct / HUNDRED
        cr = feed.cr_mass_kg * rates.cr_to_magnetic_pct / HUNDRED
    return MagneticEstimate(
        mass_kg=mass,
        mass_source=source,
        cu_mass_kg=cu,
        cr_mass_kg=cr,
        cu_mass_pct=grade_pct(cu, mass),
        cr_mass_pct=grade_pct(cr, mass),
    )


def calibrate_from_blank(
    *,
    feed: Feed,
    processed_mass_kg: Decimal,
    magnetic_mass_kg: Decimal,
    cu_mass_pct_measured: Decimal,
    cr_mass_pct_measured: Decimal,
) -> SortingRates:
    """Derive the recovery ratio and distribution rates from a measured blank run (interpretation 6)."""
    if processed_mass_kg <= 0 or magnetic_mass_kg <= 0:
        raise ValueError("the blank run needs a positive processed mass and magnetic output mass")
    if feed.cu_mass_kg <= 0 or feed.cr_mass_kg <= 0:
        raise ValueError("the blank run's products carry no Cu or Cr in the parts database")
    return SortingRates(
        magnetic_recovery_pct=quantize(HUNDRED * magnetic_mass_kg / processed_mass_kg, 4),
        cu_to_magnetic_pct=quantize(cu_mass_pct_measured * magnetic_mass_kg / feed.cu_mass_kg, 4),
        cr_to_magnetic_pct=quantize(cr_mass_pct_measured * magnetic_mass_kg / feed.cr_mass_kg, 4),
    )


def steel_grade(pct: Decimal | None) -> int | None:
    """Return the class 1-3 of the draft shredder-scrap standard, 0 for off-grade, None when unknown."""
    if pct is None:
        return None
    for grade, limit in enumerate(GRADE_LIMITS_PCT, start=1):
        if pct <= limit:
            return grade
    return 0


def grade_label(cu_mass_pct: Decimal | None, cr_mass_pct: Decimal | None) -> str | None:
    """Return e.g. "Cu1-Cr2"; an off-grade element is omitted; None when either grade is unknown."""
    cu, cr = steel_grade(cu_mass_pct), steel_grade(cr_mass_pct)
    if cu is None or cr is None:
        return None
    parts = [f"{symbol}{grade}" for symbol, grade in (("Cu", cu), ("Cr", cr)) if grade]
    return "-".join(parts) if parts else "off-grade"


def weighted_pct(pairs: Iterable[tuple[Decimal, Decimal | None]]) -> Decimal | None:
    """Mass-weighted mean of (mass_kg, pct) pairs; None when any pct is unknown or no mass."""
    total_kg = ZERO
    weighted = ZERO
    for mass_kg, pct in pairs:
        if pct is None:
            return None
        total_kg += mass_kg
        weighted += mass_kg * pct
    if total_kg <= 0:
        return None
    return quantize(weighted / total_kg, PCT_PLACES)


_GRADE_PART = re.compile(r"(Cu|Cr)\s*([123])", re.IGNORECASE)


def parse_grade_label(label: str) -> dict[str, int]:
    """Read "Cu2-Cr1" (or "Cu 2 - Cr 1") as {"Cu": 2, "Cr": 1}; an element left out is not limited."""
    found = {symbol.capitalize(): int(grade) for symbol, grade in _GRADE_PART.findall(label)}
    if not found:
        raise ValueError(f"{label!r} is not a grade such as Cu2-Cr2")
    return found


def acceptance_problems(*, cu_mass_pct: Decimal | None, cr_mass_pct: Decimal | None, max_cu_mass_pct: Decimal | None = None,
                        max_cr_mass_pct: Decimal | None = None, grade_label: str = "") -> list[str]:
    """Say why material with these grades breaks a buyer's limits; an unknown figure is a problem, not a pass."""
    values = {"Cu": cu_mass_pct, "Cr": cr_mass_pct}
    limits = {"Cu": max_cu_mass_pct, "Cr": max_cr_mass_pct}
    problems = []
    for symbol, limit in limits.items():
        if limit is None:
            continue
        if values[symbol] is None:
            problems.append(f"{symbol} is unknown, the limit is {limit} %")
        elif values[symbol] > limit:
            problems.append(f"{symbol} {values[symbol]} % is above the limit of {limit} %")
    for symbol, worst in (parse_grade_label(grade_label).items() if grade_label else ()):
        grade = steel_grade(values[symbol])
        if grade is None:
            problems.append(f"{symbol} grade is unknown, {symbol}{worst} is required")
        elif grade == 0 or grade > worst:
            problems.append(f"{symbol} grade is {f'{symbol}{grade}' if grade else 'off-grade'}, {symbol}{worst} or better is required")
    return problems
