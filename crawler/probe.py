"""Clock probes: one sync pair (logger time, reference time) per logger and run.

* ``none``: the logger is trusted (offset 0); the pair records the run's reference time, ``logger_time`` null.
* ``fixed``: an offset measured by hand (``clock_offset_s``); the logger reading is derived from it.
* ``mtime`` (automatic): the modification time of the measurement file the logger is writing, read through its
  file server (FTP ``MDTM``, SFTP ``stat``), polled every ``probe_poll_s`` until it changes. The moment the new time
  appears is bracketed by two polls of the reference clock (the Pi's system clock, kept by NTP); the new file time is
  the logger's clock at that write (to within ``mtime_resolution_s``). Offset = midpoint of the reference bracket -
  midpoint of the file-time step; uncertainty = sum of both half-widths. When the server cannot report file times, or
  the file does not change within ``probe_timeout_s`` (recording stopped, e.g. after 18:00), the last measured pair
  is reused and flagged ``stale`` (offset 0 and stale when there never was one).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from . import layout
from .clock import SyncPair, decimal_str, fixed_pair, from_epoch, none_pair, pair_from_write_window, stale_pair
from .config import AUTO_PROBE, LoggerConfig
from .sources import ProbeUnsupported, Source, SourceError, open_source

__all__ = ["ProbeResult", "latest_measurement_file", "measure", "to_logger_wall"]


@dataclass(frozen=True)
class ProbeResult:
    pair: SyncPair
    message: str
    measured: bool  # a fresh pair was measured in this run (only ever true for the automatic probe)
    unreachable: bool = False


def to_logger_wall(stamp: datetime, mtime_zone: str, tz: tzinfo) -> datetime:
    """A file time as the server printed it -> the logger's wall clock (naive, the site's zone)."""
    if mtime_zone == "logger":
        return stamp
    return stamp.replace(tzinfo=ZoneInfo(mtime_zone)).astimezone(tz).replace(tzinfo=None)


def latest_measurement_file(src: Source, root: str, today: date) -> str | None:
    """The file a recording logger is writing now: the last part of the newest folder dated today or yesterday."""
    base = layout.find_base(src, root)
    if base is None:
        return None
    folders = [f for f in layout.list_folders(src, base) if today - timedelta(days=1) <= f.day <= today]
    for folder in reversed(folders):
        files = layout.list_day_files(src, folder)
        if files:
            return files[-1].path
    return None


def measure(
    cfg: LoggerConfig,
    tz: tzinfo,
    *,
    last: SyncPair | None = None,
    now: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    opener: Callable[..., Source] = open_source,
) -> ProbeResult:
    reference_now = from_epoch(now(), tz)
    if cfg.clock == "none":
        return ProbeResult(none_pair(reference_now), "clock none: the logger clock is trusted (offset 0)", measured=False)
    if cfg.clock == "fixed":
        return ProbeResult(fixed_pair(reference_now, cfg.clock_offset_s, tz), f"clock fixed: offset {decimal_str(cfg.clock_offset_s)} s", measured=False)
    assert cfg.clock == AUTO_PROBE

    def stale(reason: str, unreachable: bool = False) -> ProbeResult:
        pair = stale_pair(AUTO_PROBE, last, reference_now)
        kept = f"keeping the pair measured at {pair.reference_time.isoformat(timespec='seconds')}" if last else "no earlier pair: offset 0"
        return ProbeResult(pair, f"{reason}; {kept} (offset {decimal_str(pair.offset_s)} s, stale)", measured=False, unreachable=unreachable)

    try:
        with opener(cfg) as src:
            path = latest_measurement_file(src, cfg.root, reference_now.date())
            if path is None:
                return stale("clock probe: no measurement file of today or yesterday to watch")
            sent = now()
            first, _ = src.file_time(path)
            deadline = sent + cfg.probe_timeout_s
            last_sent = sent
            while now() < deadline:
                sleep(cfg.probe_poll_s)
                sent = now()
                stamp, _ = src.file_time(path)
                answered = now()
                if stamp != first:
                    logger_stamp = to_logger_wall(stamp, cfg.mtime_zone, tz)
                    pair = pair_from_write_window(probe=AUTO_PROBE, logger_stamp=logger_stamp, resolution_s=cfg.mtime_resolution_s,
                                                  window_start=last_sent, window_end=answered, tz=tz, rounding=cfg.mtime_rounding)  # fmt: skip
                    return ProbeResult(pair, f"clock probe: {path} written at {logger_stamp.isoformat(timespec='seconds')} (logger clock), "
                                             f"offset {decimal_str(pair.offset_s)} s +/- {decimal_str(pair.uncertainty_s)} s", measured=True)  # fmt: skip
                last_sent = sent
            written = to_logger_wall(first, cfg.mtime_zone, tz).isoformat(timespec="seconds")
            return stale(f"clock probe: {path} was not written within {cfg.probe_timeout_s:g} s "
                         f"(last write {written} logger clock: is the logger recording?)")  # fmt: skip
    except ProbeUnsupported as exc:
        return stale(f"clock probe unsupported: {exc}")
    except SourceError as exc:
        return stale(f"clock probe failed: {exc}", unreachable=True)
