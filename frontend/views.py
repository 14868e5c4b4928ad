from __future__ import annotations

import segno
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import render

from lots import codes
from lots.certificates import certificate_document
from lots.models import Certificate, Label, LabelStatus, Lot, Shipment
from plants.selectors import STAFF_ROLES, WRITE_ROLES, buyer_grants_for, plants_for


@login_required
def home(request):
    plants = plants_for(request.user, STAFF_ROLES)
    lots = Lot.objects.filter(plant__in=plants).select_related("plant").order_by("-id")[:50]
    shipments = Shipment.objects.filter(plant__in=plants).select_related("buyer").order_by("-shipped_at")[:50]
    buyer_shipments = [
        shipment for grant in buyer_grants_for(request.user)
        for shipment in Shipment.objects.filter(plant_id=grant.plant_id, buyer_id=grant.buyer_id).order_by("-shipped_at")[:50]
    ]
    return render(request, "frontend/home.html", {
        "plants": plants, "lots": lots, "shipments": shipments, "buyer_shipments": buyer_shipments,
    })


def verify(request, digest: str):
    """Show a certificate to anyone who holds its digest, and say whether a newer one supersedes it."""
    certificate = Certificate.objects.filter(digest=digest.lower()).select_related("superseded_by").first()
    if certificate is None:
        raise Http404("No certificate has this digest.")
    document = certificate_document(certificate)
    if request.GET.get("format") == "json" or "application/json" in request.headers.get("Accept", ""):
        return JsonResponse(document, json_dumps_params={"ensure_ascii": False})
    return render(request, "frontend/verify.html", {"document": document})


@login_required
def labels_print(request):
    """A printable sheet of issued, unattached labels: QR code plus the code in letters for manual entry."""
    labels = Label.objects.filter(plant__in=plants_for(request.user, WRITE_ROLES), status=LabelStatus.ISSUED).order_by("id")
    if request.GET.get("plant"):
        labels = labels.filter(plant_id=request.GET["plant"])
    if request.GET.get("ids"):
        labels = labels.filter(pk__in=[int(i) for i in request.GET["ids"].split(",") if i.isdigit()])
    sheet = [{"code": label.code, "display": codes.display(label.code), "svg": label_qr_svg(label.code)} for label in labels[:200]]
    return render(request, "frontend/labels_print.html", {"labels": sheet})


def label_qr_svg(code: str) -> str:
    # Error correction level Q survives the scratches and fading the report saw on outdoor labels.
    return segno.make_qr(code, error="q").svg_inline(scale=4, border=2)
