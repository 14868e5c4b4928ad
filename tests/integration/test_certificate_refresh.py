"""Late data reaches a shown certificate through a real Celery worker on Redis and PostgreSQL."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation
from rest_framework.test import APIClient

from lots import services
from lots.models import Certificate, Shipment
from tests.integration.conftest import at_once, skip_reason, wait_for

pytestmark = pytest.mark.integration


def test_late_weighing_supersedes_a_shown_certificate_via_the_worker(celery_worker_process, manager_api, plant):
    lot = manager_api.post("/api/v1/lots/", {"plant": plant.pk, "code": "LATE", "processed_mass_kg": "1000"}, format="json").json()
    shown = manager_api.get(f"/api/v1/lots/{lot['id']}/certificate/").json()
    response = manager_api.post("/api/v1/outputs/", {"lot": lot["id"], "fraction": "magnetic", "mass_kg": "800",
                                                      "weighed_at": "2024-05-01T15:00:00+09:00"}, format="json")
    assert response.status_code == 201
    wait_for(lambda: Certificate.objects.filter(lot_id=lot["id"], revision=2).exists(), what="the refreshed certificate")
    newer = Certificate.objects.get(lot_id=lot["id"], revision=2)
    assert newer.payload["outputs"] == [{"fraction": "magnetic", "mass_kg": "800.000"}]
    old = APIClient().get(f"/verify/{shown['digest']}?format=json").json()
    assert old["superseded"] is True and old["current_digest"] == newer.digest


def test_concurrent_shipments_cannot_overdraw_a_lot(transactional_db, manager, plant, buyer_org):
    """Two shipments race for the same kilograms; row locks let exactly one through."""
    if skip_reason():
        pytest.skip(skip_reason())
    lot = services.lot_create(plant=plant, code="RACE", processed_mass_kg=Decimal("1000"), actor=manager)

    def ship():
        try:
            with translation.override("en"):  # a new thread starts in the default language, Japanese
                services.shipment_create(plant=plant, buyer=buyer_org, shipped_at=dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
                                         mass_kg=Decimal("700"), allocations=[(lot, Decimal("700"))], actor=manager)
            return "ok"
        except ValidationError as exc:
            return "rejected: " + exc.messages[0]

    assert sorted(at_once(ship)) == ["ok", "rejected: Too heavy: lot RACE has 300.000 kg left, not 700 kg."]
    assert Shipment.objects.count() == 1
