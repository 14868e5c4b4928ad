import pytest
from django.core.management import call_command

from audit.services import log_verify
from lots.models import Certificate, Lot, Product, Shipment
from power.models import Reading

pytestmark = pytest.mark.django_db


def test_demo_loads_a_week_of_readings_and_loads_nothing_twice(capsys):
    call_command("load_demo")
    counts = (Lot.objects.count(), Product.objects.count(), Shipment.objects.count(), Reading.objects.count())
    assert counts[0] == 6 and counts[2] == 4 and counts[3] == 5 * 8 * 720
    assert all(c.payload["energy_kwh"] is not None and c.payload["grade_label"] for c in Certificate.objects.filter(lot__isnull=False))
    call_command("load_demo")
    assert (Lot.objects.count(), Product.objects.count(), Shipment.objects.count(), Reading.objects.count()) == counts
    assert "worker" in capsys.readouterr().out
    assert log_verify()[1] is None
