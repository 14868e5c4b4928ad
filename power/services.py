from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from crawler import pw3360
from lots.certificates import lot_certificate_refresh
from lots.models import Run
from moira.services import ensure_unique, reject, save_and_log
from plants.models import Line, Plant
from power import calc, selectors
from power.models import CrawlerToken, EmissionFactor, Logger, Reading, RunEnergy, SyncPair, Upload


@transaction.atomic
def logger_create(*, plant: Plant, line: Line, code: str, actor, multiplier: Decimal = Decimal("1"),
                  multiplier_kind: str = Logger.MultiplierKind.POWER_OF_TEN, host: str = "") -> Logger:
    if line.plant_id != plant.pk:
        raise reject("line", f"Line {line.code} belongs to another plant.")
    ensure_unique(plant.loggers.filter(code=code), "code", f"Logger {code!r} exists already in plant {plant.code}.")
    logger = Logger(plant=plant, line=line, code=code, multiplier=multiplier, multiplier_kind=multiplier_kind, host=host)
    return save_and_log(logger, action="logger.create", actor=actor, plant=plant,
                        payload={"code": code, "line": line.code, "multiplier": str(multiplier)})


@transaction.atomic
def emission_factor_create(*, plant: Plant, valid_from: dt.date, kg_co2_per_kwh: Decimal, source: str, actor) -> EmissionFactor:
    ensure_unique(plant.emission_factors.filter(valid_from=valid_from), "valid_from",
                  f"Plant {plant.code} has a factor valid from {valid_from} already; add one with a later date.")
    factor = EmissionFactor(plant=plant, valid_from=valid_from, kg_co2_per_kwh=kg_co2_per_kwh, source=source, created_by=actor)
    return save_and_log(factor, action="emission_factor.create", actor=actor, plant=plant,
                        payload={"valid_from": valid_from.isoformat(), "kg_co2_per_kwh": str(kg_co2_per_kwh), "source": source})


# Crawler tokens ----------------------------------------------------------------------------------------------


def token_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def crawler_token_create(*, plant: Plant, name: str = "", actor=None) -> tuple[CrawlerToken, str]:
    """Create a token and return it with its key; only the key's digest is stored, so show it once."""
    key = secrets.token_urlsafe(32)
    token = save_and_log(CrawlerToken(plant=plant, name=name, key_sha256=token_digest(key)), action="crawler_token.create",
                         actor=actor, plant=plant, payload={"name": name})
    return token, key


@transaction.atomic
def crawler_token_revoke(*, token: CrawlerToken, actor=None) -> CrawlerToken:
    token.revoked_at = timezone.now()
    return save_and_log(token, action="crawler_token.revoke", actor=actor, plant=token.plant, payload={"token": token.pk})


# Ingest --------------------------------------------------------------------------------------------------------

MAX_CSV_BYTES = 64 * 1024 * 1024  # a day of 1-second rows is ~20 MB; the logger splits files at 200 MB


@dataclass
class IngestResult:
    upload: Upload
    created: bool
    affected_run_ids: list[int]


def _aware_logger_time(naive: dt.datetime, zone) -> dt.datetime:
    # The logger clock is set to the plant's local time; fold=0 takes the first of a repeated DST hour.
    return naive.replace(tzinfo=zone)


def _sync_pairs(logger: Logger) -> list[calc.SyncPair]:
    return [calc.SyncPair(logger_time=p.logger_time, offset_s=p.offset_s) for p in logger.sync_pairs.order_by("logger_time", "id")]


def _parse_error_upload(*, logger, digest, filename, remote_path, data, source, actor, error) -> Upload:
    upload = Upload(logger=logger, sha256=digest, filename=filename, remote_path=remote_path, size_bytes=len(data), source=source,
                    status=Upload.Status.FAILED, error=error, uploaded_by=actor if actor and actor.is_authenticated else None)
    upload.raw_file.save(f"{digest}.csv", ContentFile(data), save=False)
    return save_and_log(upload, action="upload.reject", actor=actor, plant=logger.plant, payload={"sha256": digest, "error": error})


def sync_pair_record(*, logger: Logger, logger_time: dt.datetime, reference_time: dt.datetime, probe: str,
                     uncertainty_s: Decimal | None = None, stale: bool = False, upload: Upload | None = None) -> SyncPair | None:
    """Store a clock reading and re-correct the readings whose correction it changes; None if known already."""
    offset_s = Decimal(str((reference_time - logger_time).total_seconds()))
    if logger.sync_pairs.filter(logger_time=logger_time, probe=probe).exists():
        return None
    previous = logger.sync_pairs.filter(logger_time__lt=logger_time).order_by("-logger_time").first()
    pair = SyncPair.objects.create(logger=logger, logger_time=logger_time, reference_time=reference_time, offset_s=offset_s,
                                   uncertainty_s=uncertainty_s, probe=probe, stale=stale, upload=upload)
    Logger.objects.filter(pk=logger.pk).update(clock_version=F("clock_version") + 1)
    logger.refresh_from_db(fields=["clock_version"])
    # Readings after the previous pair were corrected with its offset alone; the new pair changes them.
    readings_recorrect(logger=logger, since=previous.logger_time if previous else None)
    return pair


def readings_recorrect(*, logger: Logger, since: dt.datetime | None) -> None:
    pairs = _sync_pairs(logger)
    queryset = logger.readings.all() if since is None else logger.readings.filter(logger_time__gte=since)
    batch = []
    for reading in queryset.only("id", "logger_time", "interval_s").iterator(chunk_size=5000):
        end = calc.corrected(reading.logger_time, pairs)
        reading.time, reading.start_time = end, end - dt.timedelta(seconds=reading.interval_s)
        reading.correction_version = logger.clock_version
        batch.append(reading)
        if len(batch) == 5000:
            Reading.objects.bulk_update(batch, ["time", "start_time", "correction_version"])
            batch = []
    Reading.objects.bulk_update(batch, ["time", "start_time", "correction_version"])


def _energy_after(previous_cumulative_wh: Decimal, cumulative_wh: Decimal) -> Decimal:
    # A counter that fell back means the recording restarted from zero.
    return cumulative_wh - previous_cumulative_wh if cumulative_wh >= previous_cumulative_wh else cumulative_wh


def upload_ingest(
    *, logger: Logger, data: bytes, filename: str, source: str, actor=None, remote_path: str = "",
    claimed_sha256: str = "", sync: dict | None = None, crawler_view: dict | None = None,
) -> IngestResult:
    """Store a PW3360 file and its readings once (by digest); whole-file errors keep the file and say why."""
    if len(data) > MAX_CSV_BYTES:
        raise reject("file", f"{filename}: {len(data)} bytes is more than the {MAX_CSV_BYTES} allowed.")
    digest = hashlib.sha256(data).hexdigest()
    if claimed_sha256 and claimed_sha256.lower() != digest:
        raise reject("sha256", f"{filename}: the file's SHA-256 is {digest}, not {claimed_sha256}; it was damaged on the way.")
    existing = Upload.objects.filter(logger=logger, sha256=digest).first()
    if existing is not None:
        return IngestResult(existing, False, [])
    try:
        with transaction.atomic():
            return _ingest_new(logger=logger, data=data, digest=digest, filename=filename, source=source, actor=actor,
                               remote_path=remote_path, sync=sync, crawler_view=crawler_view)
    except IntegrityError:
        # The same file arrived twice at once: the other request stored it.
        existing = Upload.objects.filter(logger=logger, sha256=digest).first()
        if existing is None:
            raise
        return IngestResult(existing, False, [])


def _ingest_new(*, logger, data, digest, filename, source, actor, remote_path, sync, crawler_view) -> IngestResult:
    zone = logger.plant.zone
    try:
        result = pw3360.parse_pw3360(data, filename=filename)
    except pw3360.PW3360FormatError as exc:
        return IngestResult(_parse_error_upload(logger=logger, digest=digest, filename=filename, remote_path=remote_path, data=data,
                                                source=source, actor=actor, error=str(exc)), True, [])
    upload = Upload(logger=logger, sha256=digest, filename=filename, remote_path=remote_path, size_bytes=len(data), source=source,
                    status=Upload.Status.ACCEPTED, interval_s=result.interval_s, reading_count=len(result.readings),
                    rejected=[{"line_no": r.line_no, "reason": r.reason} for r in result.rejected], crawler_view=crawler_view,
                    uploaded_by=actor if actor is not None and actor.is_authenticated else None)
    upload.raw_file.save(f"{digest}.csv", ContentFile(data), save=False)
    save_and_log(upload, action="upload.accept", actor=actor, plant=logger.plant,
                 payload={"logger": logger.code, "sha256": digest, "filename": filename, "readings": len(result.readings),
                          "rejected": len(result.rejected)})
    if sync and sync.get("logger_time"):
        sync_pair_record(logger=logger, logger_time=_aware_logger_time(sync["logger_time"], zone), reference_time=sync["reference_time"],
                         probe=sync["probe"], uncertainty_s=sync.get("uncertainty_s"), stale=bool(sync.get("stale")), upload=upload)
    if not result.readings:
        return IngestResult(upload, True, [])
    pairs = _sync_pairs(logger)
    interval = dt.timedelta(seconds=result.interval_s)
    rows = []
    for reading in result.readings:
        logger_time = _aware_logger_time(reading.logger_time, zone)
        end = calc.corrected(logger_time, pairs)
        rows.append(ReadingRow(logger_time, end - interval, end, reading.cumulative_wh, reading.energy_wh))
    rows[0] = _chain_previous_file(logger=logger, first=rows[0], interval=interval)
    readings_upsert(logger=logger, upload=upload, interval_s=result.interval_s, rows=rows)
    _chain_next_file(logger=logger, last=rows[-1], interval=interval)
    return IngestResult(upload, True, _runs_touching(logger, rows[0].start_time, rows[-1].time))


class ReadingRow(NamedTuple):
    logger_time: dt.datetime
    start_time: dt.datetime
    time: dt.datetime
    cumulative_wh: Decimal
    energy_wh: Decimal | None


READING_COLUMNS = ["logger_id", "upload_id", "logger_time", "start_time", "time", "interval_s", "cumulative_wh", "energy_wh",
                   "correction_version"]


def readings_upsert(*, logger: Logger, upload: Upload, interval_s: int, rows: list[ReadingRow]) -> None:
    """Insert readings, replacing rows of the same logger and logger time (a grown file sent again).

    PostgreSQL gets them through COPY, several times faster than row inserts; other databases use Django's
    bulk upsert.
    """
    if connection.vendor != "postgresql":
        Reading.objects.bulk_create(
            (Reading(logger=logger, upload=upload, interval_s=interval_s, correction_version=logger.clock_version, **row._asdict())
             for row in rows),
            batch_size=2000, update_conflicts=True, unique_fields=["logger", "logger_time"],
            update_fields=[c.removesuffix("_id") for c in READING_COLUMNS[1:]])
        return
    table = Reading._meta.db_table
    columns = ", ".join(READING_COLUMNS)
    # A new day's file overlaps nothing: COPY it straight in. A grown file sent again goes through a
    # temporary table so that its rows replace the ones already stored.
    overlaps = logger.readings.filter(logger_time__gte=rows[0].logger_time, logger_time__lte=rows[-1].logger_time).exists()
    target = "incoming_readings" if overlaps else table
    with connection.cursor() as cursor:
        if overlaps:
            cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS incoming_readings ON COMMIT DELETE ROWS AS SELECT {columns} FROM {table} WITH NO DATA")
        with cursor.copy(f"COPY {target} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((logger.pk, upload.pk, row.logger_time, row.start_time, row.time, interval_s, row.cumulative_wh,
                                row.energy_wh, logger.clock_version))
        if overlaps:
            updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in READING_COLUMNS[1:])
            cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM incoming_readings "
                           f"ON CONFLICT (logger_id, logger_time) DO UPDATE SET {updates}")
            cursor.execute("DELETE FROM incoming_readings")


def _chain_previous_file(*, logger: Logger, first: ReadingRow, interval: dt.timedelta) -> ReadingRow:
    """Split parts and consecutive days chain: the previous file's last counter gives this file's first energy."""
    if first.energy_wh is not None:
        return first
    previous = logger.readings.filter(logger_time=first.logger_time - interval).values_list("cumulative_wh", flat=True).first()
    if previous is None:
        return first
    return first._replace(energy_wh=_energy_after(previous, first.cumulative_wh))


def _chain_next_file(*, logger: Logger, last: ReadingRow, interval: dt.timedelta) -> None:
    """A later file that arrived first could not know its first row's energy; this file supplies it."""
    following = logger.readings.filter(logger_time=last.logger_time + interval, energy_wh__isnull=True).first()
    if following is not None:
        following.energy_wh = _energy_after(last.cumulative_wh, following.cumulative_wh)
        following.save(update_fields=["energy_wh"])


def _runs_touching(logger: Logger, start: dt.datetime, end: dt.datetime) -> list[int]:
    return list(Run.objects.filter(line_id=logger.line_id, started_at__lt=end).filter(Q(ended_at__isnull=True) | Q(ended_at__gt=start))
                .values_list("id", flat=True))


# Allocation -------------------------------------------------------------------------------------------------------


def run_energy_compute(run) -> RunEnergy | None:
    """Store the run's metered energy and coverage; an open run has none yet."""
    if run.ended_at is None:
        RunEnergy.objects.filter(run=run).delete()
        return None
    figures = selectors.run_energy(run)
    energy, _ = RunEnergy.objects.update_or_create(run=run, defaults={
        "energy_kwh": figures.energy_kwh, "covered_s": figures.covered_s, "expected_s": figures.expected_s,
        "logger_count": run.line.loggers.count(),
    })
    return energy


def runs_allocate(*, run_ids) -> list[int]:
    """Recompute the energy of these runs and bring their lots' shown certificates up to date.

    Each lot's runs and its certificate change in one transaction: a worker killed part-way leaves every lot
    either as it was or wholly done, and the redelivered task finishes the rest. Lots go one by one (in id
    order, as do their rows, so that two allocations never deadlock) to keep the event log's lock short.
    """
    runs_by_lot: dict[int, list[Run]] = {}
    for run in Run.objects.filter(pk__in=run_ids).select_related("line").order_by("lot_id", "pk"):
        runs_by_lot.setdefault(run.lot_id, []).append(run)
    for lot_id, runs in runs_by_lot.items():
        with transaction.atomic():
            for run in runs:
                run_energy_compute(run)
            lot_certificate_refresh(lot_id=lot_id)
    return sorted(runs_by_lot)


def recent_runs_allocate(*, days: int = 7) -> list[int]:
    """Safety net for the nightly beat: recompute every run of the last `days` days."""
    since = timezone.now() - dt.timedelta(days=days)
    return runs_allocate(run_ids=list(Run.objects.filter(started_at__gte=since).values_list("id", flat=True)))


# One index range scan per (run, logger) through LATERAL: a plain join on the time ranges let the planner hash the
# whole readings table against every run (minutes at a plant-year's 10 million rows instead of seconds).
ALLOCATE_ALL_SQL = """
INSERT INTO power_runenergy (run_id, energy_kwh, covered_s, expected_s, logger_count, computed_at)
SELECT run.id,
       CASE WHEN COALESCE(SUM(part.overlap_s), 0) > 0 THEN ROUND(SUM(part.energy_wh) / 1000, 3) END,
       COALESCE(SUM(part.overlap_s), 0),
       EXTRACT(EPOCH FROM run.ended_at - run.started_at) * COUNT(lg.id),
       COUNT(lg.id),
       NOW()
FROM lots_run run
LEFT JOIN power_logger lg ON lg.line_id = run.line_id
LEFT JOIN LATERAL (
    SELECT SUM(rd.energy_wh * lg.multiplier * share.overlap_s / rd.interval_s) AS energy_wh, SUM(share.overlap_s) AS overlap_s
    FROM power_reading rd
    CROSS JOIN LATERAL (SELECT EXTRACT(EPOCH FROM LEAST(rd.time, run.ended_at) - GREATEST(rd.start_time, run.started_at))
                        AS overlap_s) share
    WHERE rd.logger_id = lg.id AND rd.energy_wh IS NOT NULL AND rd.time > run.started_at AND rd.start_time < run.ended_at
      -- No interval is longer than an hour: bounding `time` lets the (logger, time) index do the work.
      AND rd.time < run.ended_at + INTERVAL '1 hour'
) part ON TRUE
WHERE run.ended_at IS NOT NULL
GROUP BY run.id
ON CONFLICT (run_id) DO UPDATE SET energy_kwh = EXCLUDED.energy_kwh, covered_s = EXCLUDED.covered_s,
    expected_s = EXCLUDED.expected_s, logger_count = EXCLUDED.logger_count, computed_at = EXCLUDED.computed_at
"""


def runs_allocate_all() -> int:
    """Recompute every finished run's energy at once: one SQL statement on PostgreSQL, run by run elsewhere."""
    if connection.vendor != "postgresql":
        runs = list(Run.objects.filter(ended_at__isnull=False).select_related("line"))
        for run in runs:
            run_energy_compute(run)
        return len(runs)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(ALLOCATE_ALL_SQL)
        return cursor.rowcount
