"""A certificate's carbon figures in the shape of the Catena-X product carbon footprint model (pure).

Field names follow io.catenax.pcf (CX-0026): the declared unit is one kilogram of the lot's processed
material (a lot) or of the shipped magnetic product (a shipment); the boundary is the metered
electricity of the dismantling-to-sorting lines only (gate to gate, Scope 2), which the text says.
`primaryDataShare` is the share of run minutes covered by metered logger data.
"""

from __future__ import annotations

from decimal import Decimal

from moira.units import quantize

ALLOCATION_TEXT = ("Metered electricity of each shredding run, summed per lot with overlap-proportional intervals; "
                   "a shipment takes each lot's share by the mass drawn from it (Moira energy-1, cu-cr-1).")
BOUNDARY_TEXT = "Gate to gate: electricity of the shredder and sorting lines metered by power loggers; fuel not included."


def catena_x_pcf(*, mass_kg: Decimal, co2_kg: str | None, period_start: str | None, period_end: str | None,
                 factors: list[dict], coverage_pct: str | None) -> dict:
    per_kg = None if co2_kg is None or mass_kg <= 0 else str(quantize(Decimal(co2_kg) / mass_kg, 6))
    return {
        "declaredUnit": "kilogram",
        "unitaryProductAmount": str(mass_kg),
        "productMassPerDeclaredUnit": "1",
        "pcfExcludingBiogenic": per_kg,
        "referencePeriodStart": period_start,
        "referencePeriodEnd": period_end,
        "extWBCSD_allocationRulesDescription": ALLOCATION_TEXT,
        "boundaryProcessesDescription": BOUNDARY_TEXT,
        "secondaryEmissionFactorSources": [
            {"name": f["source"], "version": f["valid_from"], "kgCO2ePerKWh": f["kg_co2_per_kwh"]} for f in factors
        ],
        "primaryDataShare": coverage_pct,
    }
