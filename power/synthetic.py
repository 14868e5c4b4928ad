"""Synthetic PW3360 files in the layout of the fixtures, for the demo and the benchmarks (pure: no Django)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

HEADER = (
    '"HIOKI PW3360-21","V3.21"\r\n"WIRING","3P3W2M"\r\n"INTERVAL","{interval}"\r\n"U RANGE","600V"\r\n"I RANGE","500A"\r\n'
    '"VT(PT)","1.00"\r\n"CT","1.00"\r\n"START TIME","{start:%Y/%m/%d %H:%M:%S}"\r\n"MEMO","{memo}"\r\n'
    '"Date","Etime","Status","Psum_Avg[W]","WP+sum[Wh]","WP-sum[Wh]"\r\n'
)


def day_csv(start: dt.datetime, rows: int, power_w: Callable[[dt.datetime], Decimal], *, interval_s: int = 60, memo: str = "") -> bytes:
    """Return a file recording from `start` (naive, logger clock) with `rows` rows of `interval_s` seconds."""
    interval_text = f"{interval_s // 60}min" if interval_s % 60 == 0 else f"{interval_s}sec"
    lines = [HEADER.format(interval=interval_text, start=start, memo=memo)]
    cumulative = Decimal("0")
    step = dt.timedelta(seconds=interval_s)
    for i in range(1, rows + 1):
        stamp = start + i * step
        watts = power_w(stamp)
        cumulative += watts * interval_s / 3600
        elapsed = i * interval_s
        lines.append(f"{stamp:%Y/%m/%d %H:%M:%S},{elapsed // 3600:05d}:{elapsed // 60 % 60:02d}:{elapsed % 60:02d},00000000,"
                     f"{watts:.3f},{cumulative:.3f},0.000\r\n")
    return "".join(lines).encode("utf-8")
