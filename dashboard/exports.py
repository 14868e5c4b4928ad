"""CSV exports for spreadsheets: UTF-8 with a BOM so that Excel in Japan opens them, times in the plant's zone."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from django.utils import timezone

from lots.certificates import lot_certificate
from lots.models import LabelStatus, Lot, Product, Shipment
from power.models import Reading

BOM = "\ufeff"


class _Echo:
    def write(self, value):
        return value


def csv_rows(header: list[str], rows: Iterable[list]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield BOM + writer.writerow(header)
    for row in rows:
        yield writer.writerow(["" if v is None else v for v in row])


def _local(moment, plant) -> str:
    return "" if moment is None else timezone.localtime(moment, plant.zone).isoformat()


def units(plants) -> tuple[list[str], Iterator[list]]:
    header = ["plant", "id", "label", "kind", "maker", "model", "serial_number", "selection_count", "manufactured_year", "vin",
              "recycling_ticket_id", "unit_mass_kg", "status", "intake_slip", "lot", "removed_parts", "registered_at"]
    products = (Product.objects.filter(plant__in=plants).select_related("plant", "intake", "lot")
                .prefetch_related("labels", "removed_parts__part").order_by("plant__code", "id"))

    def rows():
        for p in products.iterator(chunk_size=500):
            label = next((lb.code for lb in p.labels.all() if lb.status == LabelStatus.ATTACHED), "")
            yield [p.plant.code, p.pk, label, p.kind, p.maker, p.model, p.serial_number, p.selection_count, p.manufactured_year, p.vin,
                   p.recycling_ticket_id, p.unit_mass_kg, p.status, p.intake.slip_number if p.intake else "", p.lot.code if p.lot else "",
                   " ".join(sorted(rp.part.code for rp in p.removed_parts.all())), _local(p.created_at, p.plant)]

    return header, rows()


LOT_FIGURES = ["energy_kwh", "energy_kwh_per_t", "co2_kg", "co2_t_per_t", "co2_kg_per_unit", "power_coverage_pct",
               "cu_mass_pct", "cr_mass_pct", "grade_label", "cu_cr_basis"]


def lots(plants) -> tuple[list[str], Iterator[list]]:
    header = ["plant", "lot", "processed_mass_kg", "sorting_method", "products", "first_run", *LOT_FIGURES, "certificate_digest"]

    def rows():
        for lot in Lot.objects.filter(plant__in=plants).select_related("plant", "sorting_method").order_by("plant__code", "code"):
            certificate = lot_certificate(lot)
            payload = certificate.payload
            first_run = min((r["started_at"] for r in payload["power"]["runs"]), default="")
            yield [lot.plant.code, lot.code, lot.processed_mass_kg, payload["lot"]["sorting_method"], payload["lot"]["product_count"],
                   first_run, *(payload[f] for f in LOT_FIGURES), certificate.digest]

    return header, rows()


def shipments(plants) -> tuple[list[str], Iterator[list]]:
    header = ["plant", "shipment", "code", "buyer", "shipped_at", "mass_kg", "lots"]
    queryset = (Shipment.objects.filter(plant__in=plants).select_related("plant", "buyer").prefetch_related("allocations__lot")
                .order_by("plant__code", "shipped_at"))

    def rows():
        for s in queryset:
            yield [s.plant.code, s.pk, s.code, s.buyer.name, _local(s.shipped_at, s.plant), s.mass_kg,
                   " ".join(f"{a.lot.code}:{a.mass_kg}" for a in s.allocations.all())]

    return header, rows()


def readings(plants, *, logger_id: int | None, since, until) -> tuple[list[str], Iterator[list]]:
    header = ["plant", "logger", "logger_time", "start", "end", "interval_s", "cumulative_wh", "energy_wh", "multiplier",
              "metered_energy_wh", "clock_version", "upload_sha256"]
    queryset = Reading.objects.filter(logger__plant__in=plants, time__gte=since, time__lt=until).select_related("logger__plant", "upload")
    if logger_id is not None:
        queryset = queryset.filter(logger_id=logger_id)

    def rows():
        for r in queryset.order_by("logger__code", "time").iterator(chunk_size=5000):
            plant = r.logger.plant
            metered = None if r.energy_wh is None else r.energy_wh * r.logger.multiplier
            yield [plant.code, r.logger.code, _local(r.logger_time, plant), _local(r.start_time, plant), _local(r.time, plant),
                   r.interval_s, r.cumulative_wh, r.energy_wh, r.logger.multiplier, metered, r.correction_version, r.upload.sha256]

    return header, rows()
