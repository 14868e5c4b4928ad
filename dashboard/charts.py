"""Small server-drawn SVG charts (pure: no Django): a run's power curve with the run window shaded."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from html import escape

WIDTH, HEIGHT, PAD = 640, 180, 36


def power_curve_svg(points: list[tuple[dt.datetime, Decimal]], window: tuple[dt.datetime, dt.datetime], *, title: str) -> str:
    """`points` are (interval end, mean kW); the run window is shaded so its edges can be checked by eye."""
    if not points:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="40" role="img"><title>{escape(title)}</title>' \
               f'<text x="8" y="24">{escape(title)}: no data</text></svg>'
    start = min(points[0][0], window[0])
    end = max(points[-1][0], window[1])
    span_s = max((end - start).total_seconds(), 1)
    peak = max(max(kw for _, kw in points), Decimal("0.001"))

    def x(moment: dt.datetime) -> float:
        return PAD + (WIDTH - 2 * PAD) * (moment - start).total_seconds() / span_s

    def y(kw: Decimal) -> float:
        return HEIGHT - PAD - float(kw / peak) * (HEIGHT - 2 * PAD)

    line = " ".join(f"{x(t):.1f},{y(kw):.1f}" for t, kw in points)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" role="img" class="curve">'
        f"<title>{escape(title)}</title>"
        f'<rect x="{x(window[0]):.1f}" y="{PAD - 6}" width="{max(x(window[1]) - x(window[0]), 1):.1f}" height="{HEIGHT - 2 * PAD + 6}" '
        f'fill="#ffd54f" opacity="0.45"/>'
        f'<polyline fill="none" stroke="#1565c0" stroke-width="2" points="{line}"/>'
        f'<text x="4" y="14" font-size="12">{escape(title)} · peak {peak:.1f} kW</text>'
        f'<text x="{PAD}" y="{HEIGHT - 8}" font-size="11">{start:%H:%M}</text>'
        f'<text x="{WIDTH - PAD - 30}" y="{HEIGHT - 8}" font-size="11">{end:%H:%M}</text></svg>'
    )


def trend_svg(series: dict[str, list[tuple[dt.date, Decimal]]], *, title: str, unit: str) -> str:
    """Lines of values over dates, one per series (sorting method or line), sharing one scale."""
    values = [v for points in series.values() for _, v in points]
    if not values:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="40"><text x="8" y="24">{escape(title)}: no data</text></svg>'
    days = [d for points in series.values() for d, _ in points]
    first, last = min(days), max(days)
    span = max((last - first).days, 1)
    peak = max(max(values), Decimal("0.001"))
    colours = ["#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00"]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" role="img" class="trend"><title>{escape(title)}</title>',
             f'<text x="4" y="14" font-size="12">{escape(title)} ({escape(unit)}, max {peak})</text>']
    for i, (name, points) in enumerate(sorted(series.items())):
        coords = " ".join(f"{PAD + (WIDTH - 2 * PAD) * (d - first).days / span:.1f},{HEIGHT - PAD - float(v / peak) * (HEIGHT - 2 * PAD):.1f}"
                          for d, v in sorted(points))
        colour = colours[i % len(colours)]
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coords}"/>')
        parts.append(f'<text x="{WIDTH - PAD - 120}" y="{28 + 14 * i}" font-size="11" fill="{colour}">{escape(name)}</text>')
    parts.append(f'<text x="{PAD}" y="{HEIGHT - 8}" font-size="11">{first}</text>')
    parts.append(f'<text x="{WIDTH - PAD - 70}" y="{HEIGHT - 8}" font-size="11">{last}</text></svg>')
    return "".join(parts)
