"""What the manager's pages show: today's runs, lots waiting for weights, logger health, the event chain."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Exists, Max, OuterRef, Q
from django.utils import timezone

from lots.certificates import shipment_certificate
from lots.models import AcceptanceCondition, Fraction, Lot, Output, Run, Shipment, ShipmentAlert
from lots.selectors import acceptance_for
from moira.units import decimal_or_none
from power.models import Logger, Reading, SyncPair


def open_runs(plants):
    return Run.objects.filter(lot__plant__in=plants, ended_at__isnull=True).select_related("lot", "line").order_by("started_at")


def runs_finished_since(plants, since: dt.datetime):
    return (Run.objects.filter(lot__plant__in=plants, ended_at__gte=since).select_related("lot", "line", "energy")
            .order_by("line__code", "started_at"))


def lots_waiting_for_weights(plants):
    weighed = Output.objects.filter(lot=OuterRef("pk"), fraction=Fraction.MAGNETIC)
    running = Run.objects.filter(lot=OuterRef("pk"), ended_at__isnull=True)
    return (Lot.objects.filter(plant__in=plants, runs__isnull=False).exclude(Exists(weighed)).exclude(Exists(running))
            .distinct().select_related("plant").order_by("code"))


def logger_health(plants, *, days: int = 7) -> list[dict]:
    """Per logger: the newest file, days of the last week without data, and the clock offset and its drift."""
    today = timezone.now()
    health = []
    loggers = Logger.objects.filter(plant__in=plants).select_related("plant", "line").annotate(
        last_upload=Max("uploads__received_at"), last_reading=Max("readings__time")).order_by("plant__code", "code")
    for logger in loggers:
        zone = logger.plant.zone
        since = today - dt.timedelta(days=days)
        seen_days = {timezone.localtime(t, zone).date() for t in
                     Reading.objects.filter(logger=logger, time__gte=since).values_list("time", flat=True)[::60]}
        expected = [(today - dt.timedelta(days=n)).astimezone(zone).date() for n in range(days, 0, -1)]
        pairs = list(SyncPair.objects.filter(logger=logger).order_by("-logger_time")[:2])
        drift = None
        if len(pairs) == 2 and pairs[0].logger_time != pairs[1].logger_time:
            elapsed_days = Decimal(str((pairs[0].logger_time - pairs[1].logger_time).total_seconds() / 86400))
            drift = (pairs[0].offset_s - pairs[1].offset_s) / elapsed_days
        health.append({
            "logger": logger, "last_upload": logger.last_upload, "last_reading": logger.last_reading,
            "missing_days": [d for d in expected if d not in seen_days],
            "offset_s": pairs[0].offset_s if pairs else None, "drift_s_per_day": drift,
        })
    return health


def run_power_points(run, logger) -> list[tuple[dt.datetime, Decimal]]:
    """Mean power (kW) of each interval from 30 minutes before to 30 minutes after the run."""
    margin = dt.timedelta(minutes=30)
    end = run.ended_at or timezone.now()
    rows = (Reading.objects.filter(logger=logger, time__gt=run.started_at - margin, time__lt=end + margin, energy_wh__isnull=False)
            .order_by("time").values_list("time", "energy_wh", "interval_s"))
    return [(t, wh * logger.multiplier * 3600 / interval_s / 1000) for t, wh, interval_s in rows]


def shipments_breaking_conditions(plants, *, days: int = 30) -> list[tuple]:
    """Recent shipments whose certified Cu/Cr break their buyer's newest acceptance condition."""
    since = timezone.now() - dt.timedelta(days=days)
    conditioned = AcceptanceCondition.objects.filter(plant=OuterRef("plant"), buyer=OuterRef("buyer"))
    flagged = []
    for shipment in (Shipment.objects.filter(plant__in=plants, shipped_at__gte=since).filter(Exists(conditioned))
                     .select_related("buyer").order_by("-shipped_at")):
        payload = shipment_certificate(shipment).payload
        verdict = acceptance_for(plant_id=shipment.plant_id, buyer_id=shipment.buyer_id, cu_mass_pct=decimal_or_none(payload["cu_mass_pct"]),
                                 cr_mass_pct=decimal_or_none(payload["cr_mass_pct"]))
        if verdict and not verdict["met"]:
            flagged.append((shipment, verdict["problems"]))
    return flagged


def open_shipment_alerts(visible: Q, *, days: int = 30):
    """Planned shipments flagged against a buyer's condition and not dispatched (yet), newest first."""
    since = timezone.now() - dt.timedelta(days=days)
    return ShipmentAlert.objects.filter(visible, shipment=None, raised_at__gte=since).select_related("plant", "buyer").order_by("-raised_at")
