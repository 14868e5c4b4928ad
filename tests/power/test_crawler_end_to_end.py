"""The real crawler against the real server: FTP logger tree in, readings and energy out, exactly once."""

import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from power.models import Logger, Reading, SyncPair, Upload
from power.services import crawler_token_create
from tests.crawler.support import TOKEN, FTPServer, build_pw3360_tree, crawl, logger_toml, write_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def logger(plant, line):
    return Logger.objects.create(plant=plant, line=line, code="A-11", multiplier=Decimal("1"))


def test_crawler_delivers_a_day_and_its_catch_up_once(transactional_db, live_server, plant, logger, tmp_path):
    _, key = crawler_token_create(plant=plant)
    tree = build_pw3360_tree(tmp_path / "logger")
    with FTPServer(tree.root) as ftp:
        config = write_config(tmp_path / "crawler.toml", live_server.url, logger_toml("A-11", ftp.port))
        config.write_text(config.read_text().replace(TOKEN, key))
        assert crawl(config) == 0
        delivered = set(Upload.objects.values_list("remote_path", flat=True))
        assert delivered == {*tree.day_files, *tree.old_day_files}
        readings = Reading.objects.count()
        assert readings > 0 and not Reading.objects.filter(energy_wh__lt=0).exists()
        assert crawl(config) == 0  # the same day again changes nothing
    assert Upload.objects.count() == len(delivered) and Reading.objects.count() == readings
    assert all(u.source == Upload.Source.CRAWLER and u.status == Upload.Status.ACCEPTED for u in Upload.objects.all())


def test_the_crawlers_recorded_upload_is_accepted_by_the_real_endpoint(db, plant, logger):
    example = json.loads((ROOT / "tests" / "crawler" / "fixtures" / "upload-example.json").read_text())
    data = (ROOT / example["file"]).read_bytes()
    _, key = crawler_token_create(plant=plant)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Device {key}")
    response = client.post("/api/v1/power/uploads/", {
        "logger": example["logger"], "remote_path": example["remote_path"], "sha256": example["sha256"],
        "file": SimpleUploadedFile(Path(example["remote_path"]).name, data),
        "sync": json.dumps(example["sync"]), "corrected": json.dumps(example["corrected"]),
    }, format="multipart")
    assert response.status_code == 201, response.json()
    pair = SyncPair.objects.get()
    assert pair.offset_s == Decimal("-3.000") and pair.probe == "fixed"
    # The server's own correction agrees with the crawler's view of every row it kept.
    crawler_rows = {row[1]: row[2] for row in example["corrected"]["rows"]}
    for reading in Reading.objects.all():
        logger_time = reading.logger_time.astimezone(plant.zone).replace(tzinfo=None).isoformat()
        assert reading.time.astimezone(plant.zone).isoformat() == crawler_rows[logger_time]
