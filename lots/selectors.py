"""Reads of the lots app: the parts database lookup and the figures behind each certificate."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from lots import calc, codes
from lots.models import (
    AcceptanceCondition,
    Analysis,
    Calibration,
    Fraction,
    Label,
    LabelStatus,
    Lot,
    ModelProfile,
    Product,
    ProductKind,
    RemovedPart,
    Shipment,
)
from lots.pcf import catena_x_pcf
from moira.services import reject
from moira.units import decimal_or_none, quantize
from power import calc as power_calc
from power.selectors import lot_power


def _text(value) -> str | None:
    return None if value is None else str(value)


def label_lookup(*, plant_ids, raw_code: str) -> dict:
    """Say whether scanned text is a Moira label and, if so, which product carries it (for the scanner)."""
    try:
        code = codes.normalise(raw_code)
    except codes.InvalidLabelCode:
        return {"label": None, "product": None}
    label = Label.objects.filter(code=code, plant__in=plant_ids).first()
    return {"label": codes.display(code), "label_status": label.status if label else "unknown",
            "product": label.product_id if label and label.status == LabelStatus.ATTACHED else None}


def label_code_problem(exc: codes.InvalidLabelCode) -> str:
    if exc.check_failed:
        return _("%(raw)s: the check symbol does not match; re-read the label.") % {"raw": repr(exc.raw)}
    return _("%(raw)s is not a label code (9 symbols such as 7KQ2-M9XA-4).") % {"raw": repr(exc.raw)}


def product_by_label(*, plant_ids, raw_code: str) -> Product:
    try:
        code = codes.normalise(raw_code)
    except codes.InvalidLabelCode as exc:
        raise reject("code", label_code_problem(exc)) from exc
    label = Label.objects.filter(code=code, plant__in=plant_ids).select_related("product").first()
    if label is None or label.product is None:
        raise reject("code", _("No product carries label %(code)s.") % {"code": codes.display(code)})
    if label.status == LabelStatus.RETIRED:
        raise reject("code", _("Label %(code)s was replaced; scan the product's new label.") % {"code": codes.display(code)})
    return label.product


def profile_for(product: Product, profiles: list[ModelProfile]) -> ModelProfile | None:
    """Find the parts-database row of a product: its exact model first, else its maker's selection band."""
    maker = product.maker.casefold()
    same_maker = [p for p in profiles if p.kind == product.kind and p.maker.casefold() == maker]
    exact = [p for p in same_maker if p.model and p.model.casefold() == product.model.casefold()]
    if exact:
        return max(exact, key=lambda p: p.pk)
    if product.kind == ProductKind.VENDING_MACHINE and product.selection_count is not None:
        count = product.selection_count
        bands = [
            p for p in same_maker
            if not p.model and (p.selection_min is None or p.selection_min <= count)
            and (p.selection_max is None or count <= p.selection_max)
        ]
        if bands:
            return max(bands, key=lambda p: p.pk)
    return None


def _profiles(plant_id: int) -> list[ModelProfile]:
    return list(ModelProfile.objects.filter(plant_id=plant_id).prefetch_related("part_masses__part"))


def _parts_of(profile: ModelProfile) -> dict[str, calc.PartContent]:
    return {
        pm.part.code: calc.PartContent(mass_kg=pm.mass_kg, cu_mass_kg=pm.cu_mass_kg, cr_mass_kg=pm.cr_mass_kg)
        for pm in profile.part_masses.all()
    }


def _lot_products(lot: Lot) -> QuerySet[Product]:
    return lot.products.order_by("pk").prefetch_related(
        Prefetch("removed_parts", queryset=RemovedPart.objects.select_related("part").order_by("part__code")),
        "labels",
    )


def _product_rows(lot: Lot) -> tuple[list[dict], list[calc.Feed | None], list[str]]:
    profiles = _profiles(lot.plant_id)
    rows, feeds, missing = [], [], []
    for product in _lot_products(lot):
        profile = profile_for(product, profiles)
        removed = {rp.part.code: rp.measured_mass_kg for rp in product.removed_parts.all()}
        if profile is None:
            feed = None
            missing.append(f"product {product.pk} ({product.maker} {product.model}, "
                           f"{product.selection_count or '?'} selections) has no entry in the parts database")
        else:
            unit_mass_kg = product.unit_mass_kg if product.unit_mass_kg is not None else profile.unit_mass_kg
            feed = calc.product_feed(parts=_parts_of(profile), removed=removed, unit_mass_kg=unit_mass_kg)
        feeds.append(feed)
        label = next((lb.code for lb in product.labels.all() if lb.status == LabelStatus.ATTACHED), None)
        rows.append({
            "id": product.pk,
            "label": codes.display(label) if label else None,
            "kind": product.kind,
            "maker": product.maker,
            "model": product.model,
            "serial_number": product.serial_number,
            "parts_database_entry": profile.pk if profile else None,
            "removed_parts": sorted(removed),
            "cu_feed_kg": _text(feed.cu_mass_kg) if feed else None,
            "cr_feed_kg": _text(feed.cr_mass_kg) if feed else None,
            "feed_mass_kg": _text(feed.mass_kg) if feed else None,
        })
    return rows, feeds, missing


def lot_feed(lot: Lot) -> tuple[calc.Feed | None, list[str]]:
    """Return the lot's Cu/Cr feed (None when unknown) and what is missing."""
    _, feeds, missing = _product_rows(lot)
    if not feeds:
        missing.append("the lot lists no products")
    return calc.lot_feed(feeds), missing


def lot_reference_date(lot: Lot) -> dt.date:
    """The plant-local date the lot was shredded (its first run), planned, or else created."""
    first_run = lot.runs.order_by("started_at").values_list("started_at", flat=True).first()
    if first_run is not None:
        return timezone.localtime(first_run, lot.plant.zone).date()
    return lot.planned_on or timezone.localtime(lot.created_at, lot.plant.zone).date()


def calibration_for(lot: Lot) -> Calibration | None:
    """The sorting method's calibration valid on the lot's date (the latest one before it)."""
    if lot.sorting_method_id is None:
        return None
    return (
        Calibration.objects.filter(sorting_method_id=lot.sorting_method_id, valid_from__lte=lot_reference_date(lot))
        .order_by("-valid_from", "-id")
        .first()
    )


def _calibration_payload(calibration: Calibration | None) -> dict | None:
    if calibration is None:
        return None
    return {
        "id": calibration.pk,
        "sorting_method": calibration.sorting_method.code,
        "valid_from": calibration.valid_from.isoformat(),
        "source": calibration.source,
        "blank_lot": calibration.blank_lot.code if calibration.blank_lot else None,
        "magnetic_recovery_pct": _text(calibration.magnetic_recovery_pct),
        "cu_to_magnetic_pct": _text(calibration.cu_to_magnetic_pct),
        "cr_to_magnetic_pct": _text(calibration.cr_to_magnetic_pct),
    }


def lot_shippable_mass_kg(lot: Lot) -> Decimal:
    """The magnetic product's weighed mass, or the processed mass while the outputs are not weighed."""
    magnetic = lot.outputs.filter(fraction=Fraction.MAGNETIC).values_list("mass_kg", flat=True).first()
    return magnetic if magnetic is not None else lot.processed_mass_kg


def lot_certificate_content(lot: Lot) -> dict:
    """Every figure of a lot's certificate with the inputs and method behind it (decimals as strings)."""
    lot = Lot.objects.select_related("plant", "sorting_method").get(pk=lot.pk)
    products, feeds, missing = _product_rows(lot)
    if not products:
        missing.append("the lot lists no products, so its Cu and Cr cannot be estimated")
    feed = calc.lot_feed(feeds)
    calibration = calibration_for(lot)
    if lot.sorting_method is None:
        missing.append("the lot has no sorting method")
    elif calibration is None:
        missing.append(f"sorting method {lot.sorting_method.code} has no calibration valid on {lot_reference_date(lot)}")
    rates = calc.SortingRates(
        magnetic_recovery_pct=calibration.magnetic_recovery_pct,
        cu_to_magnetic_pct=calibration.cu_to_magnetic_pct,
        cr_to_magnetic_pct=calibration.cr_to_magnetic_pct,
    ) if calibration else None
    outputs = {o.fraction: o for o in lot.outputs.all()}
    magnetic = outputs.get(Fraction.MAGNETIC)
    estimate = calc.magnetic_estimate(
        feed=feed, processed_mass_kg=lot.processed_mass_kg, rates=rates,
        measured_magnetic_mass_kg=magnetic.mass_kg if magnetic else None,
    )
    analysis = (
        Analysis.objects.filter(lot=lot, fraction=Fraction.MAGNETIC).order_by("-sampled_on", "-id").first()
    )
    if analysis is not None:
        cu_pct = quantize(analysis.cu_mass_pct, calc.PCT_PLACES)
        cr_pct = quantize(analysis.cr_mass_pct, calc.PCT_PLACES)
        basis = "analysis"
    elif estimate.cu_mass_pct is not None:
        cu_pct, cr_pct, basis = estimate.cu_mass_pct, estimate.cr_mass_pct, "estimate"
    else:
        cu_pct = cr_pct = basis = None
    energy_figures, power_inputs, power_missing = lot_power(lot)
    missing.extend(power_missing)
    return {
        "type": "lot",
        "method_version": calc.METHOD_VERSION,
        "plant": {"code": lot.plant.code, "name": lot.plant.name, "timezone": lot.plant.timezone},
        "lot": {
            "id": lot.pk,
            "code": lot.code,
            "processed_mass_kg": _text(lot.processed_mass_kg),
            "product_count": len(products),
            "sorting_method": lot.sorting_method.code if lot.sorting_method else None,
            "shredded_on": lot_reference_date(lot).isoformat() if lot.runs.exists() else None,
            "shippable_mass_kg": _text(lot_shippable_mass_kg(lot)),
        },
        **energy_figures,
        "cu_mass_pct": _text(cu_pct),
        "cr_mass_pct": _text(cr_pct),
        "cu_grade": calc.steel_grade(cu_pct),
        "cr_grade": calc.steel_grade(cr_pct),
        "grade_label": calc.grade_label(cu_pct, cr_pct),
        "cu_cr_basis": basis,
        "estimate": {
            "cu_mass_pct": _text(estimate.cu_mass_pct),
            "cr_mass_pct": _text(estimate.cr_mass_pct),
            "magnetic_mass_kg": _text(estimate.mass_kg),
            "magnetic_mass_source": estimate.mass_source,
            "cu_feed_kg": _text(feed.cu_mass_kg) if feed else None,
            "cr_feed_kg": _text(feed.cr_mass_kg) if feed else None,
            "cu_magnetic_kg": _text(estimate.cu_mass_kg),
            "cr_magnetic_kg": _text(estimate.cr_mass_kg),
        },
        "analysis": None if analysis is None else {
            "id": analysis.pk, "method": analysis.method, "sampled_on": analysis.sampled_on.isoformat(),
            "cu_mass_pct": _text(analysis.cu_mass_pct), "cr_mass_pct": _text(analysis.cr_mass_pct),
        },
        "calibration": _calibration_payload(calibration),
        "power": power_inputs,
        "outputs": [{"fraction": f, "mass_kg": _text(outputs[f].mass_kg)} for f in sorted(outputs)],
        "products": products,
        "grade_standard": "draft shredder-scrap standard, Cu and Cr classes 1-3 at 0.1/0.3/1 mass %",
        "catena_x_pcf": _pcf(lot.processed_mass_kg, energy_figures, power_inputs["runs"]),
        "missing": missing,
    }


def _pcf(mass_kg: Decimal, figures: dict, runs: list[dict]) -> dict:
    factors = {json_key(r["emission_factor"]): r["emission_factor"] for r in runs if r["emission_factor"]}
    return catena_x_pcf(
        mass_kg=mass_kg, co2_kg=figures["co2_kg"], coverage_pct=figures["power_coverage_pct"],
        period_start=min((r["started_at"] for r in runs), default=None), period_end=max((r["ended_at"] for r in runs), default=None),
        factors=[factors[k] for k in sorted(factors)],
    )


def json_key(value: dict) -> str:
    return json.dumps(value, sort_keys=True)


def shipment_certificate_content(shipment: Shipment, lot_certificates: dict[int, tuple[str, dict]]) -> dict:
    """A shipment's figures: each lot's, weighted by the mass allocated from it (§5.3).

    `lot_certificates` maps lot id to (digest, payload) of the lot certificate the shipment relies on.
    """
    allocations = list(shipment.allocations.select_related("lot").order_by("lot__code", "pk"))
    lots = []
    missing = []
    for allocation in allocations:
        digest, lot_payload = lot_certificates[allocation.lot_id]
        lots.append({
            "lot": allocation.lot.code,
            "lot_id": allocation.lot_id,
            "allocated_mass_kg": _text(allocation.mass_kg),
            "certificate_digest": digest,
            "cu_mass_pct": lot_payload["cu_mass_pct"],
            "cr_mass_pct": lot_payload["cr_mass_pct"],
            "grade_label": lot_payload["grade_label"],
            "share_of_lot": _text(quantize(allocation.mass_kg / Decimal(lot_payload["lot"]["shippable_mass_kg"]), 6)),
            "energy_kwh": lot_payload["energy_kwh"],
            "co2_kg": lot_payload["co2_kg"],
            "power_coverage_pct": lot_payload["power_coverage_pct"],
        })
        if lot_payload["cu_mass_pct"] is None:
            missing.append(f"lot {allocation.lot.code} has no Cu/Cr figure")
        if lot_payload["energy_kwh"] is None:
            missing.append(f"lot {allocation.lot.code} has no metered energy")
    energy = _shipment_energy(shipment, allocations, [lot_certificates[a.lot_id][1] for a in allocations])
    cu_pct = calc.weighted_pct((a.mass_kg, decimal_or_none(p["cu_mass_pct"])) for a, p in zip(allocations, lots, strict=True))
    cr_pct = calc.weighted_pct((a.mass_kg, decimal_or_none(p["cr_mass_pct"])) for a, p in zip(allocations, lots, strict=True))
    return {
        "type": "shipment",
        "method_version": calc.METHOD_VERSION,
        "plant": {"code": shipment.plant.code, "name": shipment.plant.name, "timezone": shipment.plant.timezone},
        "shipment": {
            "id": shipment.pk,
            "code": shipment.code,
            "buyer": {"code": shipment.buyer.code, "name": shipment.buyer.name},
            "shipped_at": shipment.shipped_at.isoformat(),
            "mass_kg": _text(shipment.mass_kg),
        },
        **energy,
        "cu_mass_pct": _text(cu_pct),
        "cr_mass_pct": _text(cr_pct),
        "cu_grade": calc.steel_grade(cu_pct),
        "cr_grade": calc.steel_grade(cr_pct),
        "grade_label": calc.grade_label(cu_pct, cr_pct),
        "allocation_method": "mass-weighted over the lots the shipment draws from",
        "lots": lots,
        "catena_x_pcf": _shipment_pcf(shipment, energy, [lot_certificates[a.lot_id][1] for a in allocations]),
        "grade_standard": "draft shredder-scrap standard, Cu and Cr classes 1-3 at 0.1/0.3/1 mass %",
        "missing": missing,
    }


def _shipment_energy(shipment: Shipment, allocations, lot_payloads: list[dict]) -> dict:
    """Each lot's energy and CO2 apportioned by the share of its magnetic product shipped (§5.3)."""
    energy = co2 = units = Decimal("0")
    coverage_weighted = Decimal("0")
    energy_known = co2_known = units_known = bool(allocations)
    for allocation, lot in zip(allocations, lot_payloads, strict=True):
        share = allocation.mass_kg / Decimal(lot["lot"]["shippable_mass_kg"])
        if lot["energy_kwh"] is None:
            energy_known = False
        else:
            energy += Decimal(lot["energy_kwh"]) * share
            coverage_weighted += Decimal(lot["power_coverage_pct"]) * allocation.mass_kg
        if lot["co2_kg"] is None:
            co2_known = False
        else:
            co2 += Decimal(lot["co2_kg"]) * share
        if lot["lot"]["product_count"] == 0:
            units_known = False
        units += lot["lot"]["product_count"] * share
    energy_kwh = quantize(energy, 3) if energy_known else None
    co2_kg = co2 if co2_known and energy_known else None
    return {
        "energy_kwh": _text(energy_kwh),
        "energy_kwh_per_t": _text(power_calc.per_tonne(energy_kwh, shipment.mass_kg, 2)),
        "co2_kg": _text(None if co2_kg is None else quantize(co2_kg, 2)),
        "co2_t_per_t": _text(None if co2_kg is None else power_calc.per_tonne(co2_kg / 1000, shipment.mass_kg, 4)),
        "co2_kg_per_unit": _text(None if co2_kg is None or not units_known else quantize(co2_kg / units, 2)),
        "power_coverage_pct": _text(quantize(coverage_weighted / shipment.mass_kg, 1) if energy_known else None),
    }


def _shipment_pcf(shipment: Shipment, energy: dict, lot_payloads: list[dict]) -> dict:
    runs = [run for lot in lot_payloads for run in lot["power"]["runs"]]
    return _pcf(shipment.mass_kg, energy, runs)


def acceptance_for(*, plant_id: int, buyer_id: int, cu_mass_pct: Decimal | None, cr_mass_pct: Decimal | None) -> dict | None:
    """Check material against the buyer's newest condition for this plant; None when the buyer set none."""
    condition = AcceptanceCondition.objects.filter(plant_id=plant_id, buyer_id=buyer_id).order_by("-created_at", "-id").first()
    if condition is None:
        return None
    problems = calc.acceptance_problems(cu_mass_pct=cu_mass_pct, cr_mass_pct=cr_mass_pct, max_cu_mass_pct=condition.max_cu_mass_pct,
                                        max_cr_mass_pct=condition.max_cr_mass_pct, grade_label=condition.grade_label)
    return {"condition": condition.pk, "met": not problems, "problems": problems}


def shipment_preview(*, plant, buyer, allocations) -> dict:
    """What a shipment would certify, and whether its buyer accepts it, before it is dispatched."""
    lots = [(lot, mass_kg, lot_certificate_content(lot)) for lot, mass_kg in allocations]
    cu = calc.weighted_pct((mass_kg, decimal_or_none(content["cu_mass_pct"])) for _, mass_kg, content in lots)
    cr = calc.weighted_pct((mass_kg, decimal_or_none(content["cr_mass_pct"])) for _, mass_kg, content in lots)
    return {
        "cu_mass_pct": _text(cu), "cr_mass_pct": _text(cr), "grade_label": calc.grade_label(cu, cr),
        "lots": [{"lot": lot.code, "mass_kg": _text(mass_kg), "grade_label": content["grade_label"]} for lot, mass_kg, content in lots],
        "acceptance": acceptance_for(plant_id=plant.pk, buyer_id=buyer.pk, cu_mass_pct=cu, cr_mass_pct=cr),
    }
