from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import render

from lots.certificates import certificate_document
from lots.models import Certificate, Lot, Shipment
from plants.selectors import STAFF_ROLES, buyer_grants_for, plants_for


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
