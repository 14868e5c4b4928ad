"""Power ingest under real conditions: PostgreSQL COPY, concurrent duplicates, allocation on a real worker."""

import datetime as dt
import hashlib
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from lots import services as lot_services
from power import services
from power.models import Logger, Reading, RunEnergy, Upload
from tests.integration.conftest import at_once, skip_reason, wait_for

pytestmark = pytest.mark.integration
UTF8 = (Path(__file__).resolve().parents[1] / "fixtures" / "pw3360" / "pw3360-3p3w-utf8.CSV").read_bytes()


@pytest.fixture
def logger(plant, line):
    return Logger.objects.create(plant=plant, line=line, code="A-11", multiplier=Decimal("1000"))


def test_the_same_file_posted_twice_at_once_is_stored_once(transactional_db, logger):
    if skip_reason():
        pytest.skip(skip_reason())
    created = at_once(lambda: services.upload_ingest(logger=logger, data=UTF8, filename="03020000.CSV", source="crawler").created)
    assert sorted(created) == [False, True]
    assert Upload.objects.count() == 1
    assert Reading.objects.count() == 720


def test_upload_reallocates_runs_on_the_worker(celery_worker_process, logger, plant, line, manager):
    lot = lot_services.lot_create(plant=plant, code="W", processed_mass_kg=Decimal("2000"), actor=manager)
    jst = dt.timezone(dt.timedelta(hours=9))
    lot_services.run_start(lot=lot, line=line, started_at=dt.datetime(2026, 3, 2, 6, 0, tzinfo=jst),
                           ended_at=dt.datetime(2026, 3, 2, 6, 10, tzinfo=jst), actor=manager)
    _, key = services.crawler_token_create(plant=plant)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Device {key}")
    response = client.post("/api/v1/power/uploads/", {"logger": "A-11", "sha256": hashlib.sha256(UTF8).hexdigest(),
                                                       "file": SimpleUploadedFile("03020000.CSV", UTF8)}, format="multipart")
    assert response.status_code == 201
    wait_for(lambda: RunEnergy.objects.filter(run__lot=lot).exists(), what="the worker's allocation")
    assert RunEnergy.objects.get(run__lot=lot).energy_kwh == Decimal("157.500")
