from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date

from audit.services import log_verify
from dashboard import charts, exports, selectors
from dashboard.pdf import certificate_pdf
from lots import services as lot_services
from lots.certificates import certificate_document, lot_certificate, shipment_certificate
from lots.models import AcceptanceCondition, Certificate, Lot, Shipment
from lots.selectors import acceptance_for
from moira.units import decimal_or_none
from plants.models import Role
from plants.selectors import buyer_grants_for, plants_for, visible_to_staff_or_buyer

READ_ROLES = (Role.MANAGER, Role.AUDITOR)


def _manager_plants(request):
    plants = plants_for(request.user, READ_ROLES)
    if not request.user.is_superuser and not plants.exists():
        raise PermissionDenied
    return plants


@login_required
def today(request):
    plants = _manager_plants(request)
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    count, broken = log_verify()
    return render(request, "dashboard/today.html", {
        "open_runs": selectors.open_runs(plants), "finished_runs": selectors.runs_finished_since(plants, midnight - dt.timedelta(days=1)),
        "waiting": selectors.lots_waiting_for_weights(plants), "loggers": selectors.logger_health(plants),
        "chain_entries": count, "chain_broken": broken, "flagged": selectors.shipments_breaking_conditions(plants),
        "alerts": selectors.open_shipment_alerts(Q(plant__in=plants)),
    })


@login_required
def lot_list(request):
    plants = _manager_plants(request)
    lots = Lot.objects.filter(plant__in=plants).select_related("plant", "sorting_method").order_by("-id")
    if request.GET.get("q"):
        lots = lots.filter(code__icontains=request.GET["q"])
    if request.GET.get("sorting"):
        lots = lots.filter(sorting_method__code=request.GET["sorting"])
    rows = [(lot, lot_certificate(lot).payload) for lot in lots[:50]]
    if request.GET.get("grade"):
        rows = [(lot, p) for lot, p in rows if p["grade_label"] == request.GET["grade"]]
    trend_by = request.GET.get("trend_by") if request.GET.get("trend_by") in TREND_GROUPS else "sorting"
    return render(request, "dashboard/lots.html", {
        "rows": rows, "trends": _trends(rows, trend_by), "trend_by": trend_by,
        "compared": [(lot, p) for lot, p in rows if p["analysis"] and p["estimate"]["cu_mass_pct"] is not None],
    })


TREND_FIGURES = (("energy_kwh_per_t", "kWh/t", "kWh/t"), ("co2_t_per_t", "CO2/t", "t-CO2/t"),
                 ("cu_mass_pct", "Cu", "mass %"), ("cr_mass_pct", "Cr", "mass %"))
TREND_GROUPS = {
    "sorting": lambda payload: payload["lot"]["sorting_method"] or "—",
    # A lot shredded on two lines belongs to neither line's trend alone.
    "line": lambda payload: "+".join(sorted({run["line"] for run in payload["power"]["runs"]})) or "—",
}


def _trends(rows, group_by: str) -> list[str]:
    """kWh/t, t-CO2/t, Cu % and Cr % over the lots' shredding days, one line per sorting method or shredder line."""
    group_of = TREND_GROUPS[group_by]
    charts_out = []
    for key, title, unit in TREND_FIGURES:
        series: dict[str, list] = {}
        for _, payload in rows:
            value, day = payload[key], payload["lot"]["shredded_on"]
            if value is not None and day:
                series.setdefault(group_of(payload), []).append((dt.date.fromisoformat(day), decimal_or_none(value)))
        charts_out.append(charts.trend_svg(series, title=title, unit=unit))
    return charts_out


@login_required
def lot_detail(request, pk: int):
    lot = get_object_or_404(Lot.objects.select_related("plant"), pk=pk, plant__in=_manager_plants(request))
    certificate = lot_certificate(lot)
    curves = []
    for run in lot.runs.select_related("line").order_by("started_at"):
        for logger in run.line.loggers.order_by("code"):
            title = f"{run.line.code} · {logger.code} · {timezone.localtime(run.started_at, lot.plant.zone):%Y-%m-%d %H:%M}"
            curves.append(charts.power_curve_svg(selectors.run_power_points(run, logger), (run.started_at, run.ended_at or timezone.now()),
                                                 title=title))
    return render(request, "dashboard/lot.html", {
        "lot": lot, "document": certificate_document(certificate), "curves": curves,
        "products": lot.products.prefetch_related("removed_parts__part", "labels").order_by("id"),
        "allocations": lot.allocations.select_related("shipment__buyer"),
    })


EXPORTS = {"units": exports.units, "lots": exports.lots, "shipments": exports.shipments}


@login_required
def export(request, kind: str):
    plants = _manager_plants(request)
    if kind == "readings":
        since = parse_date(request.GET.get("from", "")) or (timezone.localdate() - dt.timedelta(days=7))
        until = parse_date(request.GET.get("to", "")) or timezone.localdate()
        logger = request.GET.get("logger")
        header, rows = exports.readings(plants, logger_id=int(logger) if logger and logger.isdigit() else None,
                                        since=dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC),
                                        until=dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC))
    elif kind in EXPORTS:
        header, rows = EXPORTS[kind](plants)
    else:
        raise Http404
    response = StreamingHttpResponse(exports.csv_rows(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="moira-{kind}-{timezone.localdate():%Y%m%d}.csv"'
    return response


def certificate_pdf_view(request, digest: str):
    """The certificate as a PDF, for anyone who holds its digest, with a QR code back to /verify/."""
    certificate = Certificate.objects.filter(digest=digest.lower()).first()
    if certificate is None:
        raise Http404("No certificate has this digest.")
    document = certificate_document(certificate)
    response = HttpResponse(certificate_pdf(document, request.build_absolute_uri(f"/verify/{certificate.digest}")),
                            content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="moira-certificate-{certificate.digest[:12]}.pdf"'
    return response


@login_required
def buyer_portal(request):
    """A buyer's shipments (and nothing else of the plant), each with its certificate and verdict."""
    grants = list(buyer_grants_for(request.user).select_related("plant", "buyer"))
    if not grants:
        raise PermissionDenied
    error = None
    if request.method == "POST":
        grant = next((g for g in grants if str(g.plant_id) == request.POST.get("plant")), None)
        try:
            if grant is None:
                raise ValidationError("Choose a plant you buy from.")
            lot_services.acceptance_condition_create(
                plant=grant.plant, buyer=grant.buyer, actor=request.user, grade_label=request.POST.get("grade_label", "").strip(),
                max_cu_mass_pct=request.POST.get("max_cu_mass_pct") or None, max_cr_mass_pct=request.POST.get("max_cr_mass_pct") or None)
            return redirect("buyer-portal")
        except ValidationError as exc:
            error = "; ".join(exc.messages)
    rows = []
    for grant in grants:
        for shipment in Shipment.objects.filter(plant=grant.plant, buyer=grant.buyer).order_by("-shipped_at")[:100]:
            document = certificate_document(shipment_certificate(shipment))
            verdict = acceptance_for(plant_id=shipment.plant_id, buyer_id=shipment.buyer_id,
                                     cu_mass_pct=decimal_or_none(document["cu_mass_pct"]), cr_mass_pct=decimal_or_none(document["cr_mass_pct"]))
            rows.append((shipment, document, verdict))
    conditions = AcceptanceCondition.objects.filter(buyer__in={g.buyer_id for g in grants}, plant__in={g.plant_id for g in grants})
    return render(request, "dashboard/buyer.html", {
        "rows": rows, "alerts": selectors.open_shipment_alerts(visible_to_staff_or_buyer(request.user)), "grants": grants,
        "conditions": conditions.order_by("-created_at"), "error": error,
    })

