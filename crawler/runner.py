"""One crawler run: measure each logger's clock, copy the day's files (and missed days) into the spool, deliver the spool.

Exit codes (most severe first when several apply): 1 configuration or fatal local error, 6 another run holds the
spool, 4 the server refused the token, 3 uploads still waiting in the spool, 2 a logger was unreachable, 5 the
server rejected a file in this run (kept in ``spool/rejected/``), 0 everything fetched and delivered.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from . import layout
from .client import Client, UploadResult
from .clock import SyncPair, corrected_payload, decimal_str, format_time, from_epoch
from .config import AUTO_PROBE, Config, LoggerConfig
from .logs import event
from .probe import ProbeResult, measure
from .pw3360 import parse_pw3360
from .sources import Source, SourceError, open_source
from .spool import PendingEntry, Spool, SpoolBusy

__all__ = ["EXIT", "Report", "Runner"]

EXIT = {"ok": 0, "config": 1, "unreachable": 2, "pending": 3, "auth": 4, "rejected": 5, "busy": 6}
INFO, WARNING, ERROR, DEBUG = logging.INFO, logging.WARNING, logging.ERROR, logging.DEBUG
_MAX_REASONS = 20
STATE_KEEP_DAYS = 31  # days kept in delivered.json beyond the catch-up window


@dataclass
class Report:
    loggers: int = 0
    fetched: int = 0
    unchanged: int = 0
    spooled: int = 0
    delivered: int = 0
    duplicates: int = 0
    rejected: int = 0
    pending_left: int = 0
    unreachable: list[str] = field(default_factory=list)
    auth_failed: bool = False
    busy: bool = False

    @property
    def exit_code(self) -> int:
        if self.busy:
            return EXIT["busy"]
        if self.auth_failed:
            return EXIT["auth"]
        if self.pending_left:
            return EXIT["pending"]
        if self.unreachable:
            return EXIT["unreachable"]
        if self.rejected:
            return EXIT["rejected"]
        return EXIT["ok"]

    def summary(self) -> str:
        return (f"loggers={self.loggers} unreachable={len(self.unreachable)}"
                f"{' (' + ','.join(self.unreachable) + ')' if self.unreachable else ''} fetched={self.fetched} "
                f"unchanged={self.unchanged} spooled={self.spooled} delivered={self.delivered} duplicate={self.duplicates} "
                f"rejected={self.rejected} pending={self.pending_left} exit={self.exit_code}")  # fmt: skip


class Runner:
    def __init__(
        self,
        cfg: Config,
        *,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        opener: Callable[..., Source] = open_source,
        client: Client | None = None,
    ):
        self.cfg = cfg
        self.tz = cfg.site.tz
        self.now = now
        self.sleep = sleep
        self._opener = opener
        self.client = client or Client(cfg.server.url, cfg.server.token, timeout_s=cfg.server.timeout_s)

    # ------------------------------------------------------------------------------------------ entry points

    def today(self) -> date:
        return from_epoch(self.now(), self.tz).date()

    def run(self, day: date) -> Report:
        cfg = self.cfg
        report = Report(loggers=len(cfg.loggers))
        days = [day - timedelta(days=n) for n in range(cfg.site.catch_up_days, -1, -1)]
        event(INFO, f"run day={day.isoformat()} catch_up_from={days[0].isoformat()} loggers={len(cfg.loggers)} "
                    f"server={cfg.server.url} spool={cfg.server.spool_dir}")  # fmt: skip
        spool = Spool(cfg.server.spool_dir)
        try:
            spool.open()
        except SpoolBusy as exc:
            event(ERROR, f"{exc}: nothing done")
            report.busy = True
            return self._finish(report, day)
        try:
            for warning in spool.warnings:
                event(WARNING, warning)
            probes = self._probe_all(spool)
            for lg in cfg.loggers:
                if probes[lg.code].unreachable:  # the probe could not connect a moment ago: do not wait for a second timeout
                    event(ERROR, f"unreachable: {probes[lg.code].message}", lg.code)
                    report.unreachable.append(lg.code)
                    continue
                try:
                    self._crawl(lg, days, day, probes[lg.code].pair, spool, report)
                except SourceError as exc:
                    event(ERROR, f"unreachable: {exc}", lg.code)
                    report.unreachable.append(lg.code)
                finally:
                    spool.save_state()
            self._deliver(spool, report)
            report.pending_left = len(spool.pending())
            # forget remote files too old to be looked at again (the state would otherwise grow forever)
            spool.prune(before=day - timedelta(days=cfg.site.catch_up_days + STATE_KEEP_DAYS))
        finally:
            spool.close()
            self.client.close()
        return self._finish(report, day)

    def probe_only(self) -> Report:
        """Measure and store the clock pairs (``python -m crawler probe``), nothing else."""
        report = Report(loggers=len(self.cfg.loggers))
        event(INFO, f"probe loggers={len(self.cfg.loggers)}")
        spool = Spool(self.cfg.server.spool_dir)
        try:
            spool.open()
        except SpoolBusy as exc:
            event(ERROR, f"{exc}: nothing done")
            report.busy = True
            return self._finish(report, None)
        try:
            for code, result in self._probe_all(spool).items():
                if result.unreachable:
                    report.unreachable.append(code)
        finally:
            spool.close()
            self.client.close()
        return self._finish(report, None)

    def _finish(self, report: Report, day: date | None) -> Report:
        level = INFO if report.exit_code == 0 else (ERROR if report.exit_code in (EXIT["auth"], EXIT["busy"]) else WARNING)
        event(level, f"summary {'day=' + day.isoformat() + ' ' if day else ''}{report.summary()}")
        return report

    # ------------------------------------------------------------------------------------------ clocks

    def _probe_all(self, spool: Spool) -> dict[str, ProbeResult]:
        stored = spool.load_clock()
        last = {}
        for code, data in stored.items():
            try:
                last[code] = SyncPair.from_json(data)
            except (KeyError, TypeError, ValueError):
                continue

        def one(lg: LoggerConfig) -> ProbeResult:
            return measure(lg, self.tz, last=last.get(lg.code), now=self.now, sleep=self.sleep, opener=self._opener_for(lg, spool))

        results: dict[str, ProbeResult] = {}
        auto = [lg for lg in self.cfg.loggers if lg.clock == AUTO_PROBE]
        if auto:
            with ThreadPoolExecutor(max_workers=min(8, len(auto)), thread_name_prefix="probe") as pool:
                for lg, result in zip(auto, pool.map(one, auto), strict=True):
                    results[lg.code] = result
        for lg in self.cfg.loggers:
            if lg.code not in results:
                results[lg.code] = one(lg)
        changed = False
        for lg in self.cfg.loggers:
            result = results[lg.code]
            pair = result.pair
            level = WARNING if pair.stale else INFO
            uncertainty = decimal_str(pair.uncertainty_s) if pair.uncertainty_s is not None else "none"
            event(level, f"clock probe={pair.probe} offset_s={decimal_str(pair.offset_s)} uncertainty_s={uncertainty} "
                         f"stale={str(pair.stale).lower()}: {result.message}", lg.code)  # fmt: skip
            if result.measured:
                stored[lg.code] = pair.to_json()
                changed = True
        if changed:
            spool.save_clock(stored)
        return results

    def _opener_for(self, lg: LoggerConfig, spool: Spool) -> Callable[..., Source]:
        def opener(cfg: LoggerConfig) -> Source:
            if cfg.protocol == "sftp":
                return self._opener(cfg, default_known_hosts=spool.root / "known_hosts",
                                    on_new_key=lambda message: event(WARNING, message, cfg.code))  # fmt: skip
            return self._opener(cfg)

        return opener

    # ------------------------------------------------------------------------------------------ fetching

    def _crawl(self, lg: LoggerConfig, days: list[date], target: date, pair: SyncPair, spool: Spool, report: Report) -> None:
        with self._opener_for(lg, spool)(lg) as src:
            base = layout.find_base(src, lg.root)
            if base is None:
                event(WARNING, f"no PW3360 folder under {lg.root}: nothing to fetch (is root right?)", lg.code)
                return
            folders = [f for f in layout.list_folders(src, base) if days[0] <= f.day <= days[-1]]
            for day in days:
                day_files = []
                for folder in (f for f in folders if f.day == day):
                    day_files.extend(layout.list_day_files(src, folder))
                if not day_files:
                    event(WARNING if day == target else DEBUG, f"no measurement files for {day.isoformat()}", lg.code)
                    continue
                by_part = {(f.folder, f.part): f for f in day_files}
                for df in day_files:
                    previous = by_part.get((df.folder, df.part - 1))
                    self._handle_file(lg, src, df, previous.path if previous else None, pair, spool, report)
                spool.save_state()

    def _handle_file(self, lg, src: Source, df: layout.DayFile, previous_path: str | None, pair: SyncPair, spool: Spool, report: Report):
        code = lg.code
        entry = src.describe_file(df.entry)
        record = spool.file_record(code, entry.path)
        if (
            record is not None and entry.size is not None and entry.mtime is not None
            and record.get("size") == entry.size and record.get("mtime") == entry.mtime
            and (record.get("status") != "pending" or spool.is_pending(code, record.get("sha256", "")))
        ):  # fmt: skip
            report.unchanged += 1
            event(DEBUG, f"unchanged {entry.path} ({record.get('status')}): not downloaded", code)
            return
        data = src.fetch(entry.path)
        sha = hashlib.sha256(data).hexdigest()
        report.fetched += 1
        event(INFO, f"fetched {entry.path} {len(data)} bytes sha256={sha}", code)
        mtime = entry.mtime if entry.size is None or entry.size == len(data) else None  # it grew while we read: look again next run
        status = spool.digest_status(code, sha) or ("pending" if spool.is_pending(code, sha) else None)
        if status is not None:
            report.unchanged += 1
            last_reading = record.get("last_reading") if record and record.get("sha256") == sha else self._parse(data, df, None, spool, code)[2]
            spool.set_file_record(code, entry.path, {**(record or {}), "sha256": sha, "size": len(data), "mtime": mtime,
                                                     "status": status, "day": df.day.isoformat(), "last_reading": last_reading})  # fmt: skip
            event(INFO, f"unchanged {entry.path}: these bytes are already {status}", code)
            return
        result, error, last_reading = self._parse(data, df, previous_path, spool, code)
        readings = result.readings if result is not None else []
        corrected = corrected_payload(readings, offset_s=pair.offset_s, tz=self.tz, timezone_name=self.cfg.site.timezone)
        reasons = [r.reason for r in result.rejected[:_MAX_REASONS]] if result is not None else []
        meta = {
            "version": 1,
            "logger": code,
            "remote_path": entry.path,
            "filename": entry.name,
            "sha256": sha,
            "size": len(data),
            "remote_mtime": mtime,
            "day": df.day.isoformat(),
            "folder": df.folder,
            "part": df.part,
            "fetched_at": format_time(from_epoch(self.now(), self.tz)),
            "sync": pair.to_json(),
            "corrected": corrected,
            "parse": {"readings": len(readings), "rejected": len(result.rejected) if result else 0, "reasons": reasons, "error": error},
            "last_reading": last_reading,
        }
        spool.add(meta, data)
        spool.set_file_record(code, entry.path, {"sha256": sha, "size": len(data), "mtime": mtime, "status": "pending", "day": meta["day"],
                                                 "spooled_at": meta["fetched_at"], "last_reading": last_reading})  # fmt: skip
        report.spooled += 1
        if error:
            event(WARNING, f"spooled {entry.path} unparsed ({error}): it is uploaded raw, the server decides", code)
        else:
            rejected = f", {len(result.rejected)} rejected lines (first: {result.rejected[0].reason})" if result.rejected else ""
            event(INFO, f"spooled {entry.path}: {len(readings)} readings{rejected}, offset_s={decimal_str(pair.offset_s)}", code)

    def _parse(self, data: bytes, df: layout.DayFile, previous_path: str | None, spool: Spool, code: str):
        """(ParseResult or None, error or None, last_reading [logger_time, cumulative_wh] or None)."""
        prev_cum = prev_time = None
        if previous_path is not None:
            prev = (spool.file_record(code, previous_path) or {}).get("last_reading")
            if prev:
                prev_time, prev_cum = datetime.fromisoformat(prev[0]), Decimal(prev[1])
        try:
            result = parse_pw3360(data, filename=df.name, previous_cumulative_wh=prev_cum, previous_logger_time=prev_time)
        except Exception as exc:  # a file the parser refuses is still uploaded raw: the server decides
            return None, str(exc), None
        last = result.readings[-1] if result.readings else None
        return result, None, ([format_time(last.logger_time), format(last.cumulative_wh, "f")] if last else None)

    # ------------------------------------------------------------------------------------------ delivery

    def _deliver(self, spool: Spool, report: Report) -> None:
        entries = spool.pending()
        sent = self.now()
        ping = self.client.ping()
        answered = self.now()
        if ping.outcome == "ok":
            skew = (ping.server_time - from_epoch((sent + answered) / 2, self.tz)).total_seconds()
            if abs(skew) > self.cfg.server.max_clock_skew_s:
                event(WARNING, f"the Pi's clock differs from the server's by {skew:+.1f} s (more than {self.cfg.server.max_clock_skew_s:g} s): "
                               "check NTP on the Pi (timedatectl status)")  # fmt: skip
            else:
                event(INFO, f"server clock check: Pi and server agree within {abs(skew):.1f} s (round trip {answered - sent:.2f} s)")
        elif ping.outcome == "auth":
            event(ERROR, f"the server refused the crawler token ({ping.message}): uploads stopped, the spool is kept; "
                         "ask for a new token (python manage.py crawler_token PLANT_CODE)")  # fmt: skip
            report.auth_failed = True
            return
        elif ping.outcome == "network":
            if entries:
                event(WARNING, f"server unreachable ({ping.message}): {len(entries)} uploads stay in the spool for the next run")
            else:
                event(WARNING, f"server unreachable ({ping.message}): clock check skipped")
            return
        elif ping.outcome == "missing":
            event(INFO, f"server clock check skipped: no ping endpoint ({ping.message})")
        else:
            event(WARNING, f"server clock check failed: {ping.message}")
        if not entries:
            return
        event(INFO, f"delivering {len(entries)} spooled uploads, oldest first")
        for index, entry in enumerate(entries):
            try:
                data = entry.read()
            except OSError as exc:
                event(ERROR, f"spool entry {entry.blob_path} unreadable: {exc}", entry.logger)
                continue
            result = self._upload(entry, data)
            at = format_time(from_epoch(self.now(), self.tz))
            where = f"{entry.remote_path} sha256={entry.sha256}"
            if result.outcome in ("accepted", "duplicate"):
                body = result.body if isinstance(result.body, dict) else {}
                spool.mark_delivered(entry, status=result.outcome, upload_id=body.get("id"), at=at)
                if result.outcome == "accepted":
                    report.delivered += 1
                    rejected = body.get("rejected") or []
                    event(INFO, f"delivered {where} id={body.get('id')} readings={body.get('readings')} "
                                f"rejected_lines={len(rejected) if isinstance(rejected, list) else rejected}", entry.logger)  # fmt: skip
                else:
                    report.duplicates += 1
                    event(INFO, f"delivered {where}: the server already had it (duplicate, id={body.get('id')})", entry.logger)
            elif result.outcome == "rejected":
                target = spool.mark_rejected(entry, http_status=result.http_status, reason=result.body, at=at)
                report.rejected += 1
                event(ERROR, f"server rejected {where}: {result.message}; kept in {target.parent}, not retried", entry.logger)
            elif result.outcome == "auth":
                event(ERROR, f"the server refused the crawler token ({result.message}): uploads stopped, the spool is kept; "
                             "ask for a new token (python manage.py crawler_token PLANT_CODE)", entry.logger)  # fmt: skip
                report.auth_failed = True
                return
            else:
                event(WARNING, f"upload of {where} failed: {result.message}; it stays in the spool", entry.logger)
                if result.network:
                    left = len(entries) - index - 1
                    if left:
                        event(WARNING, f"server unreachable: {left} more uploads stay in the spool for the next run")
                    return

    def _upload(self, entry: PendingEntry, data: bytes) -> UploadResult:
        server = self.cfg.server
        meta = entry.meta
        result = None
        for attempt in range(server.retries + 1):
            result = self.client.upload(logger=entry.logger, remote_path=entry.remote_path, sha256=entry.sha256,
                                        filename=meta.get("filename") or entry.remote_path.rsplit("/", 1)[-1], data=data,
                                        sync=meta["sync"], corrected=meta["corrected"])  # fmt: skip
            if result.outcome != "transient" or attempt == server.retries:
                return result
            delay = server.retry_backoff_s * (2**attempt)
            event(INFO, f"upload of {entry.remote_path} failed ({result.message}): retry {attempt + 1}/{server.retries} in {delay:g} s",
                  entry.logger)  # fmt: skip
            self.sleep(delay)
        return result
