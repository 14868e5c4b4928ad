"""Power benchmarks on PostgreSQL (the issue's plant-year): ingest, allocate_all, certificate_p95.

BENCH_SCALE (default 1) scales the year: 20 loggers x 1-minute rows x 365 x scale days, 10,000 x scale lots.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import random
import statistics
import time
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client

from lots.models import Lot, Run
from plants.models import Line, Organisation, Plant
from power import services, synthetic
from power.models import Logger

LOGGERS = 20
LINES = 4
ROWS_PER_DAY = 1440
ZONE = dt.timezone(dt.timedelta(hours=9))
FIRST_DAY = dt.date(2025, 1, 1)


def _power_w(stamp: dt.datetime) -> Decimal:
    return Decimal(1500 + (stamp.hour * 60 + stamp.minute) % 97 * 20)


def _setup():
    admin = get_user_model().objects.create_superuser("power-bench", "pb@example.com", "pb")
    plant = Plant.objects.create(organisation=Organisation.objects.create(code="pbench", name="PBench"), code="pbench",
                                 name="PBench", timezone="Asia/Tokyo", closing_time=dt.time(17, 30))
    lines = [Line.objects.create(plant=plant, code=f"line-{i}", name=f"Line {i}") for i in range(LINES)]
    loggers = [Logger.objects.create(plant=plant, line=lines[i % LINES], code=f"L-{i:02d}", multiplier=Decimal("10")) for i in range(LOGGERS)]
    _, key = services.crawler_token_create(plant=plant)
    return admin, plant, lines, loggers, key


def bench_ingest(loggers, key, days: int) -> tuple[dict, int]:
    client = Client(HTTP_AUTHORIZATION=f"Device {key}")
    posting_s = 0.0
    rows = 0
    for day_index in range(days):
        day = FIRST_DAY + dt.timedelta(days=day_index)
        data = synthetic.day_csv(dt.datetime.combine(day, dt.time(0, 0)), ROWS_PER_DAY, _power_w)
        for logger in loggers:
            # Same readings, distinct bytes per logger (its code in MEMO), as real files would be.
            body = data.replace(b'"MEMO",""', f'"MEMO","{logger.code}"'.encode())
            upload = SimpleUploadedFile(f"{day:%m%d}0000.CSV", body)
            start = time.perf_counter()
            response = client.post("/api/v1/power/uploads/", {"logger": logger.code, "file": upload,
                                                              "sha256": hashlib.sha256(body).hexdigest()})
            posting_s += time.perf_counter() - start
            assert response.status_code == 201, response.content
            rows += ROWS_PER_DAY
    ingest_rps = rows / posting_s
    copy_rps = _plain_copy_rows_per_s(loggers, days)
    return {"value": round(ingest_rps), "unit": "rows/s (parse, correct, post, store)", "baseline": round(copy_rps),
            "ratio": round(ingest_rps / copy_rps, 3)}, rows


def _plain_copy_rows_per_s(loggers, days: int) -> float:
    """COPY the same number of rows straight into a copy of the readings table (same indexes)."""
    upload_id = loggers[0].uploads.values_list("id", flat=True).first()
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_copy")
        cursor.execute("CREATE TABLE bench_copy (LIKE power_reading INCLUDING ALL)")
        buffer = io.StringIO()
        for day_index in range(days):
            midnight = dt.datetime.combine(FIRST_DAY + dt.timedelta(days=day_index), dt.time(0, 0), tzinfo=ZONE)
            for logger in loggers:
                for minute in range(1, ROWS_PER_DAY + 1):
                    end = midnight + dt.timedelta(minutes=minute)
                    buffer.write(f"{logger.pk}\t{upload_id}\t{end.isoformat()}\t{(end - dt.timedelta(minutes=1)).isoformat()}\t"
                                 f"{end.isoformat()}\t60\t{minute * 25}.000\t25.000\t0\n")
        text = buffer.getvalue()
        start = time.perf_counter()
        with cursor.copy("COPY bench_copy (logger_id, upload_id, logger_time, start_time, time, interval_s, cumulative_wh, "
                         "energy_wh, correction_version) FROM STDIN") as copy:
            copy.write(text)
        elapsed = time.perf_counter() - start
        cursor.execute("DROP TABLE bench_copy")
    return days * len(loggers) * ROWS_PER_DAY / elapsed


def _make_lots(plant, lines, admin, count: int, days: int) -> list[int]:
    lots = Lot.objects.bulk_create(Lot(plant=plant, code=f"B{i:05d}", processed_mass_kg=Decimal("3000"), created_by=admin)
                                   for i in range(count))
    per_day = max(1, -(-count // days))
    runs = []
    for i, lot in enumerate(lots):
        day, slot = divmod(i, per_day)
        line = lines[slot % LINES]
        start = dt.datetime.combine(FIRST_DAY + dt.timedelta(days=day % days), dt.time(6, 0), tzinfo=ZONE) + dt.timedelta(minutes=30 * (slot // LINES))
        runs.append(Run(lot=lot, line=line, started_at=start, ended_at=start + dt.timedelta(minutes=25), started_by=admin))
    Run.objects.bulk_create(runs)
    return [lot.pk for lot in lots]


# The bare aggregate, read only, written the way that stays on the (logger, time) index at a plant-year's size: one
# range scan per run and logger. (The plain join on time ranges gets a hash plan there that takes minutes.)
BASELINE_SQL = """
SELECT run.id, SUM(part.energy_wh)
FROM lots_run run
JOIN power_logger lg ON lg.line_id = run.line_id
CROSS JOIN LATERAL (
    SELECT SUM(rd.energy_wh * lg.multiplier
               * EXTRACT(EPOCH FROM LEAST(rd.time, run.ended_at) - GREATEST(rd.start_time, run.started_at)) / rd.interval_s) AS energy_wh
    FROM power_reading rd
    WHERE rd.logger_id = lg.id AND rd.time > run.started_at AND rd.start_time < run.ended_at
      AND rd.time < run.ended_at + INTERVAL '1 hour' AND rd.energy_wh IS NOT NULL
) part
WHERE run.ended_at IS NOT NULL
GROUP BY run.id
"""


def bench_allocate_all() -> dict:
    def ours():
        services.runs_allocate_all()

    def baseline():
        with connection.cursor() as cursor:
            cursor.execute(BASELINE_SQL)
            cursor.fetchall()

    ours()  # warm the cache for both
    baseline()
    ours_s = min(_timed(ours) for _ in range(3))
    baseline_s = min(_timed(baseline) for _ in range(3))
    return {"value": round(ours_s, 3), "unit": "s to recompute every lot's runs", "baseline": round(baseline_s, 3),
            "ratio": round(ours_s / baseline_s, 3)}


def bench_certificate_p95(admin, lot_ids: list[int]) -> dict:
    client = Client()
    client.force_login(admin)
    sample = random.Random(7).sample(lot_ids, min(200, len(lot_ids)))

    def p95(path_of):
        samples = []
        for lot_id in sample:
            start = time.perf_counter()
            assert client.get(path_of(lot_id)).status_code == 200
            samples.append((time.perf_counter() - start) * 1000)
        return statistics.quantiles(samples, n=20)[-1]

    p95(lambda i: f"/api/v1/lots/{i}/certificate/")  # first issue of each certificate
    certificate = p95(lambda i: f"/api/v1/lots/{i}/certificate/")
    detail = p95(lambda i: f"/api/v1/lots/{i}/")
    return {"value": round(certificate, 2), "unit": "ms p95 GET lot certificate", "baseline": round(detail, 2),
            "ratio": round(certificate / detail, 2)}


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(scale: float) -> dict:
    admin, plant, lines, loggers, key = _setup()
    days = max(2, round(365 * scale))
    ingest, rows = bench_ingest(loggers, key, days)
    lot_ids = _make_lots(plant, lines, admin, max(10, round(10_000 * scale)), days)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    results = {"ingest": ingest, "allocate_all": bench_allocate_all(), "certificate_p95": bench_certificate_p95(admin, lot_ids)}
    results["ingest"]["rows"] = rows
    return results
