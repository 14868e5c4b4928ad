from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction

from moira.services import ensure_unique, reject, save_and_log
from plants.models import Line, Plant
from power.models import EmissionFactor, Logger


@transaction.atomic
def logger_create(*, plant: Plant, line: Line, code: str, actor, multiplier: Decimal = Decimal("1"),
                  multiplier_kind: str = Logger.MultiplierKind.POWER_OF_TEN, host: str = "") -> Logger:
    if line.plant_id != plant.pk:
        raise reject("line", f"Line {line.code} belongs to another plant.")
    ensure_unique(plant.loggers.filter(code=code), "code", f"Logger {code!r} exists already in plant {plant.code}.")
    logger = Logger(plant=plant, line=line, code=code, multiplier=multiplier, multiplier_kind=multiplier_kind, host=host)
    return save_and_log(logger, action="logger.create", actor=actor, plant=plant,
                        payload={"code": code, "line": line.code, "multiplier": str(multiplier)})


@transaction.atomic
def emission_factor_create(*, plant: Plant, valid_from: dt.date, kg_co2_per_kwh: Decimal, source: str, actor) -> EmissionFactor:
    ensure_unique(plant.emission_factors.filter(valid_from=valid_from), "valid_from",
                  f"Plant {plant.code} has a factor valid from {valid_from} already; add one with a later date.")
    factor = EmissionFactor(plant=plant, valid_from=valid_from, kg_co2_per_kwh=kg_co2_per_kwh, source=source, created_by=actor)
    return save_and_log(factor, action="emission_factor.create", actor=actor, plant=plant,
                        payload={"valid_from": valid_from.isoformat(), "kg_co2_per_kwh": str(kg_co2_per_kwh), "source": source})
