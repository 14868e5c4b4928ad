"""Writes of the lots app: every change validated, atomic, and appended to the event log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import event_append
from lots import calc, codes
from lots.catalogue import PATTERN_PRESETS
from lots.models import (
    MAX_SHIPMENT_MASS_KG,
    AcceptanceCondition,
    Analysis,
    Calibration,
    Dismantling,
    Fraction,
    Intake,
    Label,
    LabelStatus,
    Lot,
    ModelPartMass,
    ModelProfile,
    Output,
    Part,
    Photo,
    Product,
    ProductStatus,
    Relabelling,
    RemovedPart,
    Run,
    Shipment,
    ShipmentAlert,
    ShipmentAllocation,
    SortingMethod,
)
from lots.selectors import label_code_problem, lot_feed, lot_shippable_mass_kg
from moira.services import ensure_unique, reject, save_and_log
from moira.units import canonical_json, quantize, sha256_hex
from plants.models import Line, Organisation, Plant

# Phones and servers disagree by seconds; a run or weighing minutes in the future is a wrong clock or date.
FUTURE_TOLERANCE = dt.timedelta(minutes=10)
# Scales differ by a few per cent; outputs heavier than the feed by more than this are a typing error.
OUTPUT_MASS_TOLERANCE = Decimal("1.02")
MAX_LABELS_PER_BATCH = 500


def _not_in_future(field: str, when: dt.datetime) -> None:
    if when > timezone.now() + FUTURE_TOLERANCE:
        raise reject(field, _("%(when)s is in the future; check the device's clock and date.") % {"when": when.isoformat()})


# Intake, products and labels ---------------------------------------------------------------------------


@transaction.atomic
def intake_create(*, plant: Plant, slip_number: str, received_on: dt.date, expected_count: int, actor, supplier: str = "") -> Intake:
    ensure_unique(plant.intakes.filter(slip_number=slip_number), "slip_number",
                  f"Slip {slip_number!r} is registered already in plant {plant.code}.")
    intake = Intake(plant=plant, slip_number=slip_number, supplier=supplier, received_on=received_on,
                    expected_count=expected_count, created_by=actor)
    return save_and_log(intake, action="intake.create", actor=actor, plant=plant,
                        payload={"slip_number": slip_number, "expected_count": expected_count})


@transaction.atomic
def product_create(*, plant: Plant, kind: str, actor, intake: Intake | None = None, label_code: str = "",
                   nameplate_photo: Photo | None = None, **fields) -> Product:
    """Register a unit, optionally under a slip, with its QR label attached and its nameplate photo linked."""
    if nameplate_photo is not None and (nameplate_photo.plant_id != plant.pk or nameplate_photo.product_id is not None):
        raise reject("nameplate_photo", _("This photo belongs to another plant or unit."))
    if intake is not None and intake.plant_id != plant.pk:
        raise reject("intake", _("The slip belongs to another plant."))
    if intake is not None and intake.products.count() >= intake.expected_count:
        raise reject("intake", _("Slip %(slip)s lists %(count)s units and all are registered.") % {"slip": intake.slip_number, "count": intake.expected_count})
    product = Product(plant=plant, kind=kind, intake=intake, created_by=actor, **fields)
    save_and_log(product, action="product.create", actor=actor, plant=plant,
                 payload={"kind": kind, "maker": product.maker, "model": product.model, "serial_number": product.serial_number})
    if label_code:
        label_attach(product=product, code=label_code, actor=actor, field="label")
    if nameplate_photo is not None:
        nameplate_photo.product = product
        nameplate_photo.save(update_fields=["product"])
    return product


@transaction.atomic
def labels_issue(*, plant: Plant, count: int, actor) -> list[Label]:
    """Issue `count` new label codes to print; codes are never reused, so a collision just draws again."""
    if not 1 <= count <= MAX_LABELS_PER_BATCH:
        raise reject("count", _("Issue between 1 and %(max)s labels at a time.") % {"max": MAX_LABELS_PER_BATCH})
    labels = []
    while len(labels) < count:
        code = codes.new_code()
        if Label.objects.filter(code=code).exists():
            continue
        labels.append(save_and_log(Label(plant=plant, code=code, issued_by=actor), action="label.issue",
                                   actor=actor, plant=plant, payload={"code": code}))
    return labels


def _usable_label(*, plant: Plant, raw_code: str, field: str) -> Label:
    try:
        code = codes.normalise(raw_code)
    except codes.InvalidLabelCode as exc:
        raise reject(field, label_code_problem(exc)) from exc
    label = Label.objects.select_for_update().filter(code=code, plant=plant).first()
    if label is None:
        raise reject(field, _("Label %(code)s is unknown in plant %(plant)s; issue it first.") % {"code": codes.display(code), "plant": plant.code})
    if label.status != LabelStatus.ISSUED:
        raise reject(field, _("Label %(code)s is %(status)s; a code is never reused.")
            % {"code": codes.display(code), "status": label.get_status_display().lower()})
    return label


@transaction.atomic
def label_attach(*, product: Product, code: str, actor, field: str = "code") -> Label:
    if product.labels.filter(status=LabelStatus.ATTACHED).exists():
        raise reject(field, _("This product has a label already; relabel it and give the reason."))
    label = _usable_label(plant=product.plant, raw_code=code, field=field)
    label.status, label.product, label.attached_at = LabelStatus.ATTACHED, product, timezone.now()
    return save_and_log(label, action="label.attach", actor=actor, plant=product.plant,
                        payload={"code": label.code, "product": product.pk})


@transaction.atomic
def product_relabel(*, product: Product, new_code: str, reason: str, actor) -> Relabelling:
    """Replace a product's label: the old code is retired, never reused, and the reason is kept."""
    old = Label.objects.select_for_update().filter(product=product, status=LabelStatus.ATTACHED).first()
    if old is None:
        raise reject("new_code", _("This product has no label yet; attach one instead."))
    if not reason.strip():
        raise reject("reason", _("Say why the label is replaced (faded, torn, wrong unit)."))
    new = _usable_label(plant=product.plant, raw_code=new_code, field="new_code")
    old.status = LabelStatus.RETIRED
    old.save(update_fields=["status"])
    new.status, new.product, new.attached_at = LabelStatus.ATTACHED, product, timezone.now()
    new.save(update_fields=["status", "product", "attached_at"])
    relabelling = Relabelling(product=product, old_label=old, new_label=new, reason=reason, created_by=actor)
    return save_and_log(relabelling, action="product.relabel", actor=actor, plant=product.plant,
                        payload={"old_code": old.code, "new_code": new.code, "reason": reason})


# Dismantling and the parts database ----------------------------------------------------------------------


@transaction.atomic
def dismantling_record(
    *, product: Product, pattern: str, performed_at: dt.datetime, actor,
    removed: Sequence[tuple[Part, Decimal | None]] | None = None, note: str = "",
) -> Dismantling:
    """Record removed parts; without an explicit list, the pattern's preset parts are recorded."""
    product = Product.objects.select_for_update().get(pk=product.pk)
    if product.status in (ProductStatus.RESERVED, ProductStatus.SHREDDED):
        raise reject("product", _("Product %(id)s is %(status)s; it can no longer be dismantled.")
            % {"id": product.pk, "status": product.get_status_display().lower()})
    _not_in_future("performed_at", performed_at)
    if not removed:
        preset = PATTERN_PRESETS.get(product.kind, {}).get(pattern)
        if preset is None:
            raise reject("parts", _("Pattern %(pattern)s has no preset for %(kind)s; list the removed parts.")
                % {"pattern": pattern, "kind": product.get_kind_display().lower()})
        by_code = {p.code: p for p in Part.objects.filter(kind=product.kind, code__in=preset)}
        removed = [(by_code[code], None) for code in preset]
    wrong_kind = [part.code for part, _ in removed if part.kind != product.kind]
    if wrong_kind:
        raise reject("parts", _("Not parts of a %(kind)s: %(parts)s.") % {"kind": product.get_kind_display().lower(), "parts": ", ".join(wrong_kind)})
    codes_seen = [part.code for part, _ in removed]
    already = set(product.removed_parts.filter(part__in=[p for p, _ in removed]).values_list("part__code", flat=True))
    duplicates = {c for c in codes_seen if codes_seen.count(c) > 1} | already
    if duplicates:
        raise reject("parts", _("Removed already or listed twice: %(parts)s.") % {"parts": ", ".join(sorted(duplicates))})
    dismantling = save_and_log(
        Dismantling(product=product, pattern=pattern, performed_at=performed_at, note=note, created_by=actor),
        action="product.dismantle", actor=actor, plant=product.plant,
        payload={"product": product.pk, "pattern": pattern,
                 "parts": [{"part": p.code, "measured_mass_kg": str(m) if m is not None else None} for p, m in removed]},
    )
    rows = [RemovedPart(dismantling=dismantling, product=product, part=p, measured_mass_kg=m) for p, m in removed]
    for row in rows:
        row.full_clean(exclude=["dismantling"], validate_unique=False, validate_constraints=False)
    RemovedPart.objects.bulk_create(rows)
    product.status = ProductStatus.DISMANTLED
    product.save(update_fields=["status"])
    return dismantling


@transaction.atomic
def model_profile_create(
    *, plant: Plant, kind: str, maker: str, actor, parts: Sequence[dict], model: str = "",
    selection_min: int | None = None, selection_max: int | None = None, unit_mass_kg: Decimal | None = None, source: str = "",
) -> ModelProfile:
    """Add a model key to the parts database with each part's mass and Cu and Cr mass."""
    if not model and selection_min is None and selection_max is None:
        raise reject("model", "Give the model, or a selection-count band (selection_min, selection_max).")
    if selection_min is not None and selection_max is not None and selection_min > selection_max:
        raise reject("selection_max", "The band's upper bound is below its lower bound.")
    if not parts:
        raise reject("parts", "List at least one part with its Cu and Cr mass.")
    wrong_kind = [row["part"].code for row in parts if row["part"].kind != kind]
    if wrong_kind:
        raise reject("parts", f"Not parts of a {kind}: {', '.join(wrong_kind)}.")
    part_codes = [row["part"].code for row in parts]
    if len(set(part_codes)) != len(part_codes):
        raise reject("parts", "A part is listed twice.")
    profile = save_and_log(
        ModelProfile(plant=plant, kind=kind, maker=maker, model=model, selection_min=selection_min,
                     selection_max=selection_max, unit_mass_kg=unit_mass_kg, source=source, created_by=actor),
        action="model_profile.create", actor=actor, plant=plant,
        payload={"kind": kind, "maker": maker, "model": model, "selection_min": selection_min,
                 "selection_max": selection_max, "parts": [
                     {"part": row["part"].code, **{k: str(row[k]) if row.get(k) is not None else None
                                                   for k in ("mass_kg", "cu_mass_kg", "cr_mass_kg")}} for row in parts]},
    )
    ModelPartMass.objects.bulk_create(
        ModelPartMass(profile=profile, part=row["part"], mass_kg=row.get("mass_kg"),
                      cu_mass_kg=row["cu_mass_kg"], cr_mass_kg=row["cr_mass_kg"]) for row in parts
    )
    return profile


# Sorting methods and calibration ---------------------------------------------------------------------------


@transaction.atomic
def sorting_method_create(*, plant: Plant, code: str, name: str, actor) -> SortingMethod:
    ensure_unique(plant.sorting_methods.filter(code=code), "code", f"Sorting method {code!r} exists already.")
    return save_and_log(SortingMethod(plant=plant, code=code, name=name), action="sorting_method.create",
                        actor=actor, plant=plant, payload={"code": code, "name": name})


@transaction.atomic
def calibration_create(
    *, sorting_method: SortingMethod, valid_from: dt.date, magnetic_recovery_pct: Decimal,
    cu_to_magnetic_pct: Decimal, cr_to_magnetic_pct: Decimal, actor, note: str = "",
    source: str = Calibration.Source.MANUAL, blank_lot: Lot | None = None,
) -> Calibration:
    calibration = Calibration(
        sorting_method=sorting_method, valid_from=valid_from, magnetic_recovery_pct=magnetic_recovery_pct,
        cu_to_magnetic_pct=cu_to_magnetic_pct, cr_to_magnetic_pct=cr_to_magnetic_pct, source=source,
        blank_lot=blank_lot, note=note, created_by=actor,
    )
    return save_and_log(calibration, action="calibration.create", actor=actor, plant=sorting_method.plant, payload={
        "sorting_method": sorting_method.code, "valid_from": valid_from.isoformat(), "source": source,
        "magnetic_recovery_pct": str(magnetic_recovery_pct), "cu_to_magnetic_pct": str(cu_to_magnetic_pct),
        "cr_to_magnetic_pct": str(cr_to_magnetic_pct), "blank_lot": blank_lot.pk if blank_lot else None})


@transaction.atomic
def calibration_from_blank_run(*, lot: Lot, analysis: Analysis, valid_from: dt.date, actor) -> Calibration:
    """Calibrate the lot's sorting method from its measured blank run (weighed magnetics and an analysis)."""
    if lot.sorting_method is None:
        raise reject("lot", "The lot has no sorting method to calibrate.")
    if analysis.lot_id != lot.pk or analysis.fraction != Fraction.MAGNETIC:
        raise reject("analysis", "Give an analysis of this lot's magnetic product.")
    magnetic = lot.outputs.filter(fraction=Fraction.MAGNETIC).first()
    if magnetic is None:
        raise reject("lot", "Weigh the lot's magnetic product first.")
    feed, missing = lot_feed(lot)
    if feed is None:
        raise reject("lot", "The lot's Cu/Cr feed is unknown: " + "; ".join(missing))
    try:
        rates = calc.calibrate_from_blank(
            feed=feed, processed_mass_kg=lot.processed_mass_kg, magnetic_mass_kg=magnetic.mass_kg,
            cu_mass_pct_measured=analysis.cu_mass_pct, cr_mass_pct_measured=analysis.cr_mass_pct,
        )
    except ValueError as exc:
        raise reject("lot", str(exc)) from exc
    return calibration_create(
        sorting_method=lot.sorting_method, valid_from=valid_from, actor=actor, source=Calibration.Source.BLANK_RUN,
        blank_lot=lot, note=f"blank run {lot.code}, analysis #{analysis.pk}",
        magnetic_recovery_pct=rates.magnetic_recovery_pct, cu_to_magnetic_pct=rates.cu_to_magnetic_pct,
        cr_to_magnetic_pct=rates.cr_to_magnetic_pct,
    )


# Lots, runs and outputs ------------------------------------------------------------------------------------


@transaction.atomic
def lot_create(
    *, plant: Plant, code: str, processed_mass_kg: Decimal, actor, products: Sequence[Product] = (),
    sorting_method: SortingMethod | None = None, planned_on: dt.date | None = None,
) -> Lot:
    ensure_unique(plant.lots.filter(code=code), "code", f"Lot {code!r} exists already in plant {plant.code}.")
    if sorting_method is not None and sorting_method.plant_id != plant.pk:
        raise reject("sorting_method", "The sorting method belongs to another plant.")
    lot = save_and_log(
        Lot(plant=plant, code=code, processed_mass_kg=processed_mass_kg, sorting_method=sorting_method,
            planned_on=planned_on, created_by=actor),
        action="lot.create", actor=actor, plant=plant,
        payload={"code": code, "processed_mass_kg": str(processed_mass_kg),
                 "sorting_method": sorting_method.code if sorting_method else None},
    )
    if products:
        lot_reserve(lot=lot, products=products, actor=actor)
    return lot


@transaction.atomic
def lot_reserve(*, lot: Lot, products: Sequence[Product], actor) -> Lot:
    """Reserve products for shredding in this lot; a product belongs to one lot only."""
    ids = [p.pk for p in products]
    if len(set(ids)) != len(ids):
        raise reject("products", _("A product is listed twice."))
    locked = list(Product.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    problems = []
    for product in locked:
        if product.plant_id != lot.plant_id:
            problems.append(_("%(id)s belongs to another plant") % {"id": product.pk})
        elif product.lot_id is not None and product.lot_id != lot.pk:
            problems.append(_("%(id)s is in lot %(lot)s already") % {"id": product.pk, "lot": product.lot.code})
        elif product.lot_id == lot.pk:
            problems.append(_("%(id)s is in this lot already") % {"id": product.pk})
    if problems:
        raise reject("products", _("Cannot reserve: %(problems)s.") % {"problems": "; ".join(problems)})
    shredding_started = lot.runs.exists()
    new_status = ProductStatus.SHREDDED if shredding_started else ProductStatus.RESERVED
    Product.objects.filter(pk__in=ids).update(lot=lot, status=new_status)
    save_and_log(lot, action="lot.reserve", actor=actor, plant=lot.plant, payload={"products": sorted(ids)})
    return lot


def _check_overlap(*, line: Line, started_at: dt.datetime, ended_at: dt.datetime | None, exclude_run: int | None = None) -> None:
    """Reject a run that overlaps another on the same line; an open run lasts until it is stopped."""
    clash = Run.objects.filter(line=line).exclude(pk=exclude_run).filter(Q(ended_at__isnull=True) | Q(ended_at__gt=started_at))
    if ended_at is not None:
        clash = clash.filter(started_at__lt=ended_at)
    clash = clash.select_related("lot").first()
    if clash is not None:
        until = clash.ended_at.isoformat() if clash.ended_at else _("now (still running)")
        raise reject("started_at", _("Line %(line)s is in use by lot %(lot)s from %(start)s to %(end)s.")
            % {"line": line.code, "lot": clash.lot.code, "start": clash.started_at.isoformat(), "end": until})


@transaction.atomic
def run_start(*, lot: Lot, line: Line, started_at: dt.datetime, actor, ended_at: dt.datetime | None = None) -> Run:
    """Record a metered run; without `ended_at` the run stays open until it is stopped."""
    if line.plant_id != lot.plant_id:
        raise reject("line", _("The line belongs to another plant."))
    _not_in_future("started_at", started_at)
    if ended_at is not None:
        _not_in_future("ended_at", ended_at)
        if ended_at <= started_at:
            raise reject("ended_at", _("A run must end after it starts."))
    Line.objects.select_for_update().get(pk=line.pk)  # serialises runs on one line so overlaps cannot slip in
    _check_overlap(line=line, started_at=started_at, ended_at=ended_at)
    run = save_and_log(
        Run(lot=lot, line=line, started_at=started_at, ended_at=ended_at, started_by=actor,
            stopped_by=actor if ended_at else None),
        action="run.start", actor=actor, plant=lot.plant,
        payload={"lot": lot.code, "line": line.code, "started_at": started_at.isoformat(),
                 "ended_at": ended_at.isoformat() if ended_at else None},
    )
    lot.products.exclude(status=ProductStatus.SHREDDED).update(status=ProductStatus.SHREDDED)
    return run


@transaction.atomic
def run_stop(*, run: Run, ended_at: dt.datetime, actor) -> Run:
    # Lock the run row only: a plain FOR UPDATE would lock the joined plant row too, which every concurrent write
    # referencing the plant must share-lock at commit (deferred FK checks) while it holds the audit chain head.
    run = Run.objects.select_for_update(of=("self",), no_key=True).select_related("lot__plant", "line").get(pk=run.pk)
    if run.ended_at is not None:
        raise reject("ended_at", _("This run was stopped already at %(end)s.") % {"end": run.ended_at.isoformat()})
    if ended_at <= run.started_at:
        raise reject("ended_at", _("The stop must come after the start (%(start)s).") % {"start": run.started_at.isoformat()})
    _not_in_future("ended_at", ended_at)
    _check_overlap(line=run.line, started_at=run.started_at, ended_at=ended_at, exclude_run=run.pk)
    run.ended_at, run.stopped_by = ended_at, actor
    return save_and_log(run, action="run.stop", actor=actor, plant=run.lot.plant,
                        payload={"lot": run.lot.code, "line": run.line.code, "ended_at": ended_at.isoformat()})


@transaction.atomic
def output_record(*, lot: Lot, fraction: str, mass_kg: Decimal, weighed_at: dt.datetime, actor) -> Output:
    lot = Lot.objects.select_for_update(no_key=True).get(pk=lot.pk)  # NO KEY: runs being inserted for this lot need not wait
    _not_in_future("weighed_at", weighed_at)
    if lot.outputs.filter(fraction=fraction).exists():
        raise reject("fraction", _("The %(fraction)s output of lot %(lot)s is weighed already.") % {"fraction": fraction, "lot": lot.code})
    outputs_kg = lot.outputs.aggregate(total=Sum("mass_kg"))["total"] or Decimal("0")
    if outputs_kg + mass_kg > lot.processed_mass_kg * OUTPUT_MASS_TOLERANCE:
        raise reject("mass_kg", _("Outputs would weigh %(outputs)s kg, more than the %(processed)s kg processed.")
            % {"outputs": outputs_kg + mass_kg, "processed": lot.processed_mass_kg})
    return save_and_log(Output(lot=lot, fraction=fraction, mass_kg=mass_kg, weighed_at=weighed_at, created_by=actor),
                        action="output.record", actor=actor, plant=lot.plant,
                        payload={"lot": lot.code, "fraction": fraction, "mass_kg": str(mass_kg)})


@transaction.atomic
def analysis_record(*, lot: Lot, fraction: str, cu_mass_pct: Decimal, cr_mass_pct: Decimal, method: str,
                    sampled_on: dt.date, actor) -> Analysis:
    analysis = Analysis(lot=lot, fraction=fraction, cu_mass_pct=cu_mass_pct, cr_mass_pct=cr_mass_pct,
                        method=method, sampled_on=sampled_on, created_by=actor)
    return save_and_log(analysis, action="analysis.record", actor=actor, plant=lot.plant,
                        payload={"lot": lot.code, "fraction": fraction, "cu_mass_pct": str(cu_mass_pct),
                                 "cr_mass_pct": str(cr_mass_pct), "method": method})


# Shipments ---------------------------------------------------------------------------------------------------


@transaction.atomic
def shipment_create(
    *, plant: Plant, buyer: Organisation, shipped_at: dt.datetime, mass_kg: Decimal,
    allocations: Sequence[tuple[Lot, Decimal]], actor, code: str = "",
) -> Shipment:
    """Ship magnetic product drawn from lots by mass; no lot can give more than it has left."""
    _not_in_future("shipped_at", shipped_at)
    if mass_kg > MAX_SHIPMENT_MASS_KG:
        raise reject("mass_kg", _("%(mass)s kg is more than one shipment can carry (%(max)s kg).") % {"mass": mass_kg, "max": MAX_SHIPMENT_MASS_KG})
    if not allocations:
        raise reject("allocations", _("Allocate the shipment to at least one lot."))
    lot_ids = [lot.pk for lot, _ in allocations]
    if len(set(lot_ids)) != len(lot_ids):
        raise reject("allocations", _("A lot is listed twice."))
    allocated_kg = sum((m for _, m in allocations), Decimal("0"))
    if allocated_kg != mass_kg:
        raise reject("mass_kg", _("The shipment weighs %(mass)s kg but its allocations add up to %(allocated)s kg.")
            % {"mass": mass_kg, "allocated": allocated_kg})
    locked = {lot.pk: lot for lot in Lot.objects.select_for_update().filter(pk__in=lot_ids).order_by("pk")}
    problems = []
    for lot, alloc_kg in allocations:
        lot = locked[lot.pk]
        if lot.plant_id != plant.pk:
            problems.append(_("lot %(lot)s belongs to another plant") % {"lot": lot.code})
            continue
        shipped_kg = lot.allocations.aggregate(total=Sum("mass_kg"))["total"] or Decimal("0")
        left_kg = lot_shippable_mass_kg(lot) - shipped_kg
        if alloc_kg > left_kg:
            problems.append(_("lot %(lot)s has %(left)s kg left, not %(asked)s kg") % {"lot": lot.code, "left": left_kg, "asked": alloc_kg})
    if problems:
        raise reject("allocations", _("Too heavy: %(problems)s.") % {"problems": "; ".join(problems)})
    shipment = save_and_log(
        Shipment(plant=plant, buyer=buyer, code=code, shipped_at=shipped_at, mass_kg=mass_kg, created_by=actor),
        action="shipment.create", actor=actor, plant=plant,
        payload={"buyer": buyer.code, "mass_kg": str(mass_kg), "shipped_at": shipped_at.isoformat(),
                 "allocations": [{"lot": locked[lot.pk].code, "mass_kg": str(m)} for lot, m in allocations]},
    )
    try:
        ShipmentAllocation.objects.bulk_create(ShipmentAllocation(shipment=shipment, lot=lot, mass_kg=m) for lot, m in allocations)
    except IntegrityError as exc:  # pragma: no cover - the checks above make this a race only
        raise reject("allocations", _("The allocations conflict with another shipment; retry.")) from exc
    ShipmentAlert.objects.filter(plant=plant, buyer=buyer, plan_sha256=shipment_plan_sha256(allocations), shipment=None).update(shipment=shipment)
    return shipment


def shipment_plan_sha256(allocations: Sequence[tuple[Lot, Decimal]]) -> str:
    return sha256_hex(canonical_json({"allocations": sorted([lot.pk, str(quantize(mass_kg, 3))] for lot, mass_kg in allocations)}))


@transaction.atomic
def shipment_alert_raise(*, plant: Plant, buyer: Organisation, allocations: Sequence[tuple[Lot, Decimal]], preview: dict,
                         actor) -> ShipmentAlert | None:
    """Flag a planned shipment that breaks the buyer's condition to both sides; the same plan raises one alert."""
    verdict = preview["acceptance"]
    if verdict is None or verdict["met"]:
        return None
    alert, created = ShipmentAlert.objects.get_or_create(
        plant=plant, buyer=buyer, condition_id=verdict["condition"], plan_sha256=shipment_plan_sha256(allocations),
        defaults={"allocations": [{"lot": row["lot"], "mass_kg": row["mass_kg"]} for row in preview["lots"]],
                  "cu_mass_pct": preview["cu_mass_pct"], "cr_mass_pct": preview["cr_mass_pct"],
                  "grade_label": preview["grade_label"] or "", "problems": verdict["problems"], "raised_by": actor},
    )
    if created:
        event_append(action="shipment_alert.raise", obj=alert, actor=actor, plant=plant,
                     payload={"buyer": buyer.code, "allocations": alert.allocations, "problems": alert.problems})
    return alert


@transaction.atomic
def acceptance_condition_create(*, plant: Plant, buyer: Organisation, actor, max_cu_mass_pct: Decimal | None = None,
                                max_cr_mass_pct: Decimal | None = None, grade_label: str = "", note: str = "") -> AcceptanceCondition:
    if grade_label:
        try:
            calc.parse_grade_label(grade_label)
        except ValueError as exc:
            raise reject("grade_label", str(exc)) from exc
    if max_cu_mass_pct is None and max_cr_mass_pct is None and not grade_label:
        raise reject("non_field_errors", "Give a Cu or Cr limit, or a grade.")
    condition = AcceptanceCondition(plant=plant, buyer=buyer, max_cu_mass_pct=max_cu_mass_pct, max_cr_mass_pct=max_cr_mass_pct,
                                    grade_label=grade_label, note=note, created_by=actor)
    return save_and_log(condition, action="acceptance_condition.create", actor=actor, plant=plant, payload={
        "buyer": buyer.code, "max_cu_mass_pct": str(max_cu_mass_pct) if max_cu_mass_pct is not None else None,
        "max_cr_mass_pct": str(max_cr_mass_pct) if max_cr_mass_pct is not None else None, "grade_label": grade_label})
