"""PW3360 files in, energy per run out: the crawler and manual upload endpoints against the real parser."""

import hashlib
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from lots.models import Certificate
from power.models import Logger, Reading, RunEnergy, Upload
from power.services import crawler_token_create

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pw3360"
UTF8 = (FIXTURES / "pw3360-3p3w-utf8.CSV").read_bytes()
RESTART = (FIXTURES / "pw3360-3p4w-restart.CSV").read_bytes()


@pytest.fixture
def logger(plant, line):
    return Logger.objects.create(plant=plant, line=line, code="A-11", multiplier=Decimal("1000"))


@pytest.fixture
def crawler(plant):
    _, key = crawler_token_create(plant=plant, name="pi-1")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Device {key}")
    return client


def upload(client, data=UTF8, name="03020000.CSV", logger_code="A-11", **fields):
    body = {"logger": logger_code, "file": _file(data, name), "sha256": hashlib.sha256(data).hexdigest(), **fields}
    return client.post("/api/v1/power/uploads/", body, format="multipart")


def _file(data, name):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="text/csv")


def run_energy(worker_api, plant, line, start, end, code="LOT-E"):
    lot = worker_api.post("/api/v1/lots/", {"plant": plant.pk, "code": code, "processed_mass_kg": "2000"}, format="json").json()
    assert worker_api.post(f"/api/v1/lots/{lot['id']}/runs/", {"line": line.pk, "started_at": start, "ended_at": end}, format="json").status_code == 201
    return lot, worker_api.get(f"/api/v1/lots/{lot['id']}/certificate/").json()


def test_crawler_upload_is_stored_once_by_digest(crawler, logger):
    first = upload(crawler)
    assert first.status_code == 201, first.json()
    assert first.json()["readings"] == 720
    again = upload(crawler)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert Upload.objects.count() == 1 and Reading.objects.count() == 720
    stored = Upload.objects.get()
    assert stored.raw_file.read() == UTF8 and stored.sha256 == hashlib.sha256(UTF8).hexdigest()


def test_ping_tells_the_crawler_its_plant(crawler, plant):
    assert crawler.get("/api/v1/power/ping/").json()["plant"] == plant.code


def test_revoked_or_unknown_tokens_are_refused(plant, logger):
    token, key = crawler_token_create(plant=plant)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Device {key}")
    assert upload(client).status_code == 201
    call_command("crawler_token", plant.code, "--revoke", str(token.pk))
    assert upload(client, data=RESTART).status_code == 401
    client.credentials(HTTP_AUTHORIZATION="Device not-a-token")
    assert client.get("/api/v1/power/ping/").status_code == 401


def test_crawler_cannot_post_for_another_plants_logger(crawler, other_plant):
    from plants.models import Line

    Logger.objects.create(plant=other_plant, line=Line.objects.create(plant=other_plant, code="s", name="s"), code="B-1")
    response = upload(crawler, logger_code="B-1")
    assert response.status_code == 400 and "logger" in response.json()


def test_damaged_transfer_is_refused(crawler, logger):
    response = crawler.post("/api/v1/power/uploads/", {"logger": "A-11", "file": _file(UTF8[:-10], "x.CSV"),
                                                        "sha256": hashlib.sha256(UTF8).hexdigest()}, format="multipart")
    assert response.status_code == 400 and "damaged" in response.json()["sha256"][0]


def test_unreadable_file_is_kept_and_named(crawler, logger):
    response = upload(crawler, data="これはCSVではない\n".encode("utf-16"), name="BROKEN.CSV")
    assert response.status_code == 400
    assert "BROKEN.CSV" in response.json()["file"][0]
    assert Upload.objects.get().status == Upload.Status.FAILED


def test_truncated_last_row_is_reported_and_the_rest_kept(crawler, logger):
    truncated = UTF8.rstrip(b"\r\n")[:-30]
    body = upload(crawler, data=truncated).json()
    assert body["readings"] == 719
    assert body["rejected"][0]["line_no"] == 730


def test_counter_restart_never_gives_negative_energy(crawler, logger):
    assert upload(crawler, data=RESTART).status_code == 201
    assert not Reading.objects.filter(energy_wh__lt=0).exists()


def test_run_energy_counts_straddling_intervals_pro_rata(crawler, logger, worker_api, plant, line):
    upload(crawler)
    _, certificate = run_energy(worker_api, plant, line, "2026-03-02T06:00:30+09:00", "2026-03-02T06:05:30+09:00")
    # Rows 06:01..06:06 hold 2.5, 2.5, 40, 0, 0, 55 Wh; the first and last count half; x1000 (VT/CT).
    assert certificate["energy_kwh"] == "71.250"
    assert certificate["power_coverage_pct"] == "100.0"
    assert certificate["energy_kwh_per_t"] == "35.63"
    assert certificate["co2_kg"] is None and any("emission factor" in m for m in certificate["missing"])


def test_minutes_without_data_lower_coverage_and_are_not_filled(crawler, logger, worker_api, plant, line):
    upload(crawler)
    _, certificate = run_energy(worker_api, plant, line, "2026-03-02T05:50:00+09:00", "2026-03-02T06:02:00+09:00")
    assert certificate["energy_kwh"] == "5.000"
    assert certificate["power_coverage_pct"] == "16.7"
    assert any("16.7 %" in m for m in certificate["missing"])


def test_co2_uses_the_factor_valid_on_the_run_date(crawler, logger, manager_api, worker_api, plant, line):
    for valid_from, factor in (("2025-04-01", "0.466"), ("2026-03-01", "0.443"), ("2026-04-01", "0.9")):
        manager_api.post("/api/v1/emission-factors/", {"plant": plant.pk, "valid_from": valid_from, "kg_co2_per_kwh": factor,
                                                       "source": "utility"}, format="json")
    upload(crawler)
    _, certificate = run_energy(worker_api, plant, line, "2026-03-02T06:00:00+09:00", "2026-03-02T07:00:00+09:00")
    energy = Decimal(certificate["energy_kwh"])
    assert Decimal(certificate["co2_kg"]) == (energy * Decimal("0.443")).quantize(Decimal("0.01"))
    assert certificate["power"]["runs"][0]["emission_factor"]["valid_from"] == "2026-03-01"
    assert Decimal(certificate["co2_t_per_t"]) == (Decimal(certificate["co2_kg"]) / 1000 / 2).quantize(Decimal("0.0001"))
    pcf = certificate["catena_x_pcf"]
    assert pcf["declaredUnit"] == "kilogram"
    assert Decimal(pcf["pcfExcludingBiogenic"]) == (Decimal(certificate["co2_kg"]) / 2000).quantize(Decimal("0.000001"))
    assert [f["kgCO2ePerKWh"] for f in pcf["secondaryEmissionFactorSources"]] == ["0.443000"]
    assert (pcf["referencePeriodStart"], pcf["primaryDataShare"]) == ("2026-03-01T21:00:00+00:00", "100.0")


def test_a_sync_pair_corrects_the_logger_clock_and_supersedes_the_certificate(crawler, logger, worker_api, plant, line):
    upload(crawler)
    lot, before = run_energy(worker_api, plant, line, "2026-03-02T06:03:00+09:00", "2026-03-02T06:04:00+09:00")
    assert before["energy_kwh"] == "0.000"  # the logger's 06:04 row
    # The crawler measured the logger 60 s slow: its 06:03 row (40 Wh) really ended at 06:04.
    sync = {"probe": "fixed", "logger_time": "2026-03-02T18:15:00", "reference_time": "2026-03-02T18:16:00+09:00"}
    late_part = UTF8.replace(b"2026/03/02", b"2026/03/03")
    response = upload(crawler, data=late_part, name="03030000.CSV", sync=json.dumps(sync))
    assert response.status_code == 201, response.json()
    after = worker_api.get(f"/api/v1/lots/{lot['id']}/certificate/").json()
    assert after["energy_kwh"] == "40.000"
    assert after["digest"] != before["digest"]
    assert after["power"]["runs"][0]["loggers"][0]["clock_version"] == 1
    old = APIClient().get(f"/verify/{before['digest']}?format=json").json()
    assert old["superseded"] is True


def test_naive_reference_time_in_a_sync_pair_is_rejected(crawler, logger):
    sync = {"probe": "fixed", "logger_time": "2026-03-02T18:15:00", "reference_time": "2026-03-02T18:16:00"}
    response = upload(crawler, sync=json.dumps(sync))
    assert response.status_code == 400 and "reference_time" in response.json()["sync"]


def test_split_parts_chain_whatever_order_they_arrive_in(crawler, logger):
    lines = UTF8.split(b"\r\n")
    header, rows = lines[:10], [row for row in lines[10:] if row]
    part0 = b"\r\n".join(header + rows[:300]) + b"\r\n"
    part1 = b"\r\n".join(header + rows[300:]) + b"\r\n"
    assert upload(crawler, data=part1, name="03020001.CSV").status_code == 201
    first_of_part1 = Reading.objects.order_by("logger_time")[0]
    assert first_of_part1.energy_wh is None  # its predecessor has not arrived
    assert upload(crawler, data=part0, name="03020000.CSV").status_code == 201
    first_of_part1.refresh_from_db()
    assert first_of_part1.energy_wh is not None
    total = sum(r.energy_wh for r in Reading.objects.all())
    assert total == Decimal("14152.5")


def test_manager_uploads_by_hand_and_a_worker_cannot(manager_api, worker_api, plant, logger):
    assert upload(worker_api).status_code == 403
    response = upload(manager_api)
    assert response.status_code == 201
    assert Upload.objects.get().source == Upload.Source.MANUAL
    listing = manager_api.get("/api/v1/power/uploads/").json()
    assert listing["results"][0]["logger_code"] == "A-11"


def test_late_readings_reallocate_a_finished_run(crawler, logger, worker_api, plant, line, django_capture_on_commit_callbacks):
    lot, before = run_energy(worker_api, plant, line, "2026-03-02T06:00:00+09:00", "2026-03-02T06:10:00+09:00")
    assert before["energy_kwh"] is None and before["power_coverage_pct"] == "0.0"
    with django_capture_on_commit_callbacks(execute=True):
        upload(crawler)
    assert RunEnergy.objects.get().energy_kwh == Decimal("157.500")  # computed by the allocation job
    reissued = Certificate.objects.get(lot_id=lot["id"], revision=2)  # the shown certificate was superseded at once
    assert reissued.payload["energy_kwh"] == "157.500"


def test_shipment_takes_its_share_of_the_lots_energy(crawler, logger, worker_api, manager_api, plant, line, buyer_org, worker):
    manager_api.post("/api/v1/emission-factors/", {"plant": plant.pk, "valid_from": "2026-01-01", "kg_co2_per_kwh": "0.5",
                                                   "source": "utility"}, format="json")
    upload(crawler)
    lot, certificate = run_energy(worker_api, plant, line, "2026-03-02T06:00:00+09:00", "2026-03-02T06:10:00+09:00")
    shipment = worker_api.post("/api/v1/shipments/", {"plant": plant.pk, "buyer": buyer_org.pk, "shipped_at": "2026-03-03T10:00:00+09:00",
                                                       "mass_kg": "500", "allocations": [{"lot": lot["id"], "mass_kg": "500"}]}, format="json").json()
    shipped = worker_api.get(f"/api/v1/shipments/{shipment['id']}/certificate/").json()
    # A quarter of the lot's 2000 kg ships: a quarter of its 157.5 kWh and of its 78.75 kg CO2.
    assert shipped["energy_kwh"] == "39.375"
    assert shipped["energy_kwh_per_t"] == "78.75"
    assert shipped["co2_kg"] == "19.69"
    assert shipped["co2_kg_per_unit"] is None  # the lot lists no products
    assert shipped["power_coverage_pct"] == "100.0"


def test_a_logger_clock_jumping_back_rejects_the_repeated_hour_and_keeps_the_rest(crawler, logger):
    lines = UTF8.split(b"\r\n")
    # Right after 08:00 the logger clock was set back an hour: its next 59 rows repeat 07:01-07:59.
    jumped = [line.replace(b"2026/03/02 08:", b"2026/03/02 07:") if i >= 10 + 120 else line for i, line in enumerate(lines)]
    body = upload(crawler, data=b"\r\n".join(jumped), name="JUMP.CSV").json()
    assert body["readings"] == 720 - 59
    assert len(body["rejected"]) == 59
    assert "backwards" in body["rejected"][0]["reason"] or "duplicate" in body["rejected"][0]["reason"]
    assert not Reading.objects.filter(energy_wh__lt=0).exists()


def test_a_file_that_grew_since_the_last_crawl_replaces_its_rows(crawler, logger):
    lines = UTF8.split(b"\r\n")
    early = b"\r\n".join(lines[:10 + 300]) + b"\r\n"
    assert upload(crawler, data=early).json()["readings"] == 300
    assert upload(crawler, data=UTF8).json()["readings"] == 720
    assert Reading.objects.count() == 720
    assert sum(r.energy_wh for r in Reading.objects.all()) == Decimal("14152.5")
    assert set(Reading.objects.values_list("upload_id", flat=True)) == {Upload.objects.order_by("-id")[0].pk}
