"""Issuing certificates: immutable once issued; a changed figure issues a new revision that supersedes."""

from __future__ import annotations

import json

from django.db import transaction

from audit.services import event_append
from lots.models import Certificate, Lot, Shipment
from lots.selectors import lot_certificate_content, shipment_certificate_content
from moira.units import canonical_json, sha256_hex


def _issue(*, subject: dict, content: dict, plant) -> Certificate:
    # Compare through JSON so that the stored payload and a fresh computation are alike in every type.
    content = json.loads(json.dumps(content))
    latest = Certificate.objects.filter(**subject).order_by("-revision").first()
    if latest is not None and {k: v for k, v in latest.payload.items() if k != "revision"} == content:
        return latest
    revision = latest.revision + 1 if latest else 1
    payload = {**content, "revision": revision}
    certificate = Certificate.objects.create(
        **subject, revision=revision, payload=payload, digest=sha256_hex(canonical_json(payload))
    )
    if latest is not None:
        latest.superseded_by = certificate
        latest.save(update_fields=["superseded_by"])
    event_append(action="certificate.issue", obj=certificate, plant=plant,
                 payload={"digest": certificate.digest, "revision": revision,
                          "supersedes": latest.digest if latest else None})
    return certificate


@transaction.atomic
def lot_certificate(lot: Lot) -> Certificate:
    """Return the lot's current certificate, issuing a new revision when its figures changed."""
    # The lot row only, not the joined plant row (see services.run_stop): no deadlock with writes to the same plant.
    lot = Lot.objects.select_for_update(of=("self",), no_key=True).select_related("plant").get(pk=lot.pk)
    return _issue(subject={"lot": lot}, content=lot_certificate_content(lot), plant=lot.plant)


def lot_certificate_refresh(*, lot_id: int) -> Certificate | None:
    """Bring a lot's certificate up to date if one was issued; a lot nobody has certified stays so."""
    lot = Lot.objects.filter(pk=lot_id).first()
    if lot is None or not lot.certificates.exists():
        return None
    return lot_certificate(lot)


@transaction.atomic
def shipment_certificate(shipment: Shipment) -> Certificate:
    shipment = Shipment.objects.select_for_update(of=("self",), no_key=True).select_related("plant", "buyer").get(pk=shipment.pk)
    lot_certificates = {}
    for allocation in shipment.allocations.select_related("lot"):
        certificate = lot_certificate(allocation.lot)
        lot_certificates[allocation.lot_id] = (certificate.digest, certificate.payload)
    content = shipment_certificate_content(shipment, lot_certificates)
    return _issue(subject={"shipment": shipment}, content=content, plant=shipment.plant)


def certificate_document(certificate: Certificate) -> dict:
    """The certificate as served: its payload plus its digest and where it stands."""
    newest = certificate
    while newest.superseded_by_id is not None:
        newest = newest.superseded_by
    return {
        **certificate.payload,
        "digest": certificate.digest,
        "issued_at": certificate.issued_at.isoformat(),
        "superseded": certificate.superseded_by_id is not None,
        "superseded_by": certificate.superseded_by.digest if certificate.superseded_by_id else None,
        "current_digest": newest.digest,
        "verify_url": f"/verify/{certificate.digest}",
    }
