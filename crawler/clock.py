"""Clock offsets and timestamp correction. Pure functions: no I/O, no global clock.

Conventions (CONTRACT section 4 and the upload contract):

* ``logger_time`` is what the logger's clock reads: a naive datetime, the wall clock of the site's time zone.
* ``reference_time`` is the Pi's clock (NTP-disciplined system clock), aware.
* ``offset_s = reference - logger`` in seconds, so ``corrected = logger_time (made aware in the site's zone) + offset``.
  Arithmetic is done in UTC so that a daylight-saving change in the site's zone cannot shift a reading by an hour.
* Decimals travel as strings with at most 3 decimal places (the server stores milliseconds).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal

__all__ = [
    "SyncPair",
    "correct",
    "corrected_payload",
    "decimal_str",
    "fixed_pair",
    "format_time",
    "from_epoch",
    "none_pair",
    "pair_from_write_window",
    "parse_time",
    "stale_pair",
    "to_decimal",
]

_MS = Decimal("0.001")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_decimal(seconds: float | int | Decimal) -> Decimal:
    """Seconds as a Decimal rounded to the millisecond (floats go through their shortest repr, never binary noise)."""
    d = seconds if isinstance(seconds, Decimal) else Decimal(repr(seconds) if isinstance(seconds, float) else seconds)
    return d.quantize(_MS, rounding=ROUND_HALF_EVEN)


def decimal_str(value: Decimal) -> str:
    """'-3.0', '1.25', '0.001': plain notation, at most 3 decimals, at least one."""
    text = format(to_decimal(value), "f")
    if "." in text:
        text = text.rstrip("0")
        if text.endswith("."):
            text += "0"
    if text in ("-0.0", "-0"):
        text = "0.0"
    return text


def format_time(value: datetime) -> str:
    """ISO 8601; whole seconds when there is no fraction, else milliseconds; an offset when the value is aware."""
    if value.microsecond:
        return value.isoformat(timespec="milliseconds")
    return value.isoformat(timespec="seconds")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def from_epoch(seconds: float, tz: tzinfo) -> datetime:
    return datetime.fromtimestamp(seconds, tz)


def _to_utc(logger_time: datetime, tz: tzinfo) -> datetime:
    return logger_time.replace(tzinfo=tz).astimezone(UTC)


def _delta(offset_s: Decimal) -> timedelta:
    return timedelta(microseconds=int((offset_s * 1000000).to_integral_value()))


def correct(logger_time: datetime, offset_s: Decimal, tz: tzinfo) -> datetime:
    """The corrected, aware time of a logger reading: logger wall clock in ``tz`` plus the offset."""
    return (_to_utc(logger_time, tz) + _delta(offset_s)).astimezone(tz)


@dataclass(frozen=True)
class SyncPair:
    """One clock reading of a logger against the reference clock (the ``sync`` field of an upload)."""

    probe: str  # 'none', 'fixed' or 'mtime'
    logger_time: datetime | None  # naive, the logger's clock; None when the logger clock was not read
    reference_time: datetime  # aware
    offset_s: Decimal  # reference - logger
    uncertainty_s: Decimal | None = None
    stale: bool = False  # not measured in this run: the last measured pair (or offset 0 when there never was one)

    def to_json(self) -> dict:
        return {
            "probe": self.probe,
            "logger_time": format_time(self.logger_time) if self.logger_time is not None else None,
            "reference_time": format_time(self.reference_time),
            "offset_s": decimal_str(self.offset_s),
            "uncertainty_s": decimal_str(self.uncertainty_s) if self.uncertainty_s is not None else None,
            "stale": self.stale,
        }

    @classmethod
    def from_json(cls, data: dict) -> SyncPair:
        return cls(
            probe=data["probe"],
            logger_time=parse_time(data["logger_time"]) if data.get("logger_time") else None,
            reference_time=parse_time(data["reference_time"]),
            offset_s=Decimal(data["offset_s"]),
            uncertainty_s=Decimal(data["uncertainty_s"]) if data.get("uncertainty_s") is not None else None,
            stale=bool(data.get("stale", False)),
        )


def none_pair(reference_time: datetime) -> SyncPair:
    """``clock = "none"``: the logger is trusted; the pair records when the crawler ran, without a logger reading."""
    return SyncPair(probe="none", logger_time=None, reference_time=reference_time, offset_s=Decimal(0))


def fixed_pair(reference_time: datetime, offset_s: Decimal, tz: tzinfo) -> SyncPair:
    """``clock = "fixed"``: an offset measured by hand. The logger reading is derived (reference - offset) so that
    the server, which corrects from (logger_time, reference_time) pairs, applies the same offset."""
    offset_s = to_decimal(offset_s)
    logger_time = (reference_time.astimezone(UTC) - _delta(offset_s)).astimezone(tz).replace(tzinfo=None)
    return SyncPair(probe="fixed", logger_time=logger_time, reference_time=reference_time, offset_s=offset_s)


def pair_from_write_window(
    *, probe: str, logger_stamp: datetime, resolution_s: Decimal, window_start: float, window_end: float, tz: tzinfo,
    rounding: str = "down",
) -> SyncPair:
    """A pair from one observed write of the logger.

    ``logger_stamp`` is the file time the logger's server reported after the write (naive, the logger's wall clock)
    in steps of ``resolution_s``. ``rounding`` says how the file system made the step: ``"down"`` (truncated: the write
    happened at logger time in ``[stamp, stamp + resolution)``), ``"up"`` (``(stamp - resolution, stamp]``, as Windows
    does on FAT) or ``"unknown"`` (``(stamp - resolution, stamp + resolution)``).
    ``window_start``/``window_end`` (epoch seconds, reference clock) bracket the write: the last poll that still saw
    the old time was sent at ``window_start``, the first that saw the new one was answered at ``window_end``.
    The pair is the midpoint of both intervals; the uncertainty is the sum of their half-widths.
    """
    if window_end < window_start:
        raise ValueError("window_end is before window_start")
    res_us = int((Decimal(resolution_s) * 1000000).to_integral_value())
    if rounding == "down":
        logger_mid, half_res_us = logger_stamp + timedelta(microseconds=res_us // 2), res_us // 2
    elif rounding == "up":
        logger_mid, half_res_us = logger_stamp - timedelta(microseconds=res_us // 2), res_us // 2
    elif rounding == "unknown":
        logger_mid, half_res_us = logger_stamp, res_us
    else:
        raise ValueError(f"rounding must be 'down', 'up' or 'unknown', not {rounding!r}")
    start_us = int((Decimal(repr(window_start)) * 1000000).to_integral_value())
    end_us = int((Decimal(repr(window_end)) * 1000000).to_integral_value())
    mid_ms = (start_us + end_us) // 2000  # reference midpoint, whole milliseconds
    reference_time = (_EPOCH + timedelta(milliseconds=mid_ms)).astimezone(tz)
    logger_mid = logger_mid.replace(microsecond=logger_mid.microsecond // 1000 * 1000)
    offset = to_decimal(Decimal((reference_time - _to_utc(logger_mid, tz)) // timedelta(microseconds=1)) / 1000000)
    uncertainty = to_decimal(Decimal(end_us - start_us + 2 * half_res_us) / 2000000)
    return SyncPair(probe=probe, logger_time=logger_mid, reference_time=reference_time, offset_s=offset, uncertainty_s=uncertainty)


def stale_pair(probe: str, last: SyncPair | None, reference_time: datetime) -> SyncPair:
    """The probe could not measure in this run: reuse the last measured pair (flagged stale), else offset 0."""
    if last is not None:
        return replace(last, stale=True)
    return SyncPair(probe=probe, logger_time=None, reference_time=reference_time, offset_s=Decimal(0), stale=True)


def corrected_payload(readings, *, offset_s: Decimal, tz: tzinfo, timezone_name: str) -> dict:
    """The ``corrected`` field of an upload: one row per accepted reading (rejected lines are absent).

    ``[line_no, logger_time (naive, as printed), corrected time (aware), energy Wh as a decimal string or None]``.
    """
    rows = []
    for r in readings:
        energy = format(r.energy_wh, "f") if r.energy_wh is not None else None
        rows.append([r.line_no, format_time(r.logger_time), format_time(correct(r.logger_time, offset_s, tz)), energy])
    return {"timezone": timezone_name, "offset_s": decimal_str(offset_s), "rows": rows}
