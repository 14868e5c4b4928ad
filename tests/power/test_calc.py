"""Clock correction and run energy maths, without a database."""

import datetime as dt
from decimal import Decimal as D

from power import calc

JST = dt.timezone(dt.timedelta(hours=9))


def at(hh, mm, ss=0):
    return dt.datetime(2026, 3, 2, hh, mm, ss, tzinfo=JST)


def test_offset_is_interpolated_between_pairs_and_held_outside_them():
    pairs = [calc.SyncPair(at(6, 0), D("10")), calc.SyncPair(at(18, 0), D("22"))]
    assert calc.offset_at(at(12, 0), pairs) == D("16")
    assert calc.offset_at(at(5, 0), pairs) == D("10")
    assert calc.offset_at(at(19, 0), pairs) == D("22")
    assert calc.offset_at(at(12, 0), []) == D("0")


def test_corrected_time_adds_the_offset_to_the_millisecond():
    assert calc.corrected(at(12, 0), [calc.SyncPair(at(6, 0), D("-2.5004"))]) == at(11, 59, 57) + dt.timedelta(milliseconds=500)


def test_edges_count_in_proportion_to_their_overlap():
    rows = [calc.Row(at(6, 0), at(6, 1), D("60")), calc.Row(at(6, 5), at(6, 6), D("30"))]
    energy, covered = calc.edge_energy_wh(rows, at(6, 0, 45), at(6, 5, 20))
    assert energy == D("15") + D("10")
    assert covered == D("35")


def test_run_without_any_data_has_unknown_energy_not_zero():
    figures = calc.run_energy(inside_wh=D("0"), inside_s=D("0"), edge_wh=D("0"), edge_s=D("0"), duration_s=D("600"), logger_count=2)
    assert figures.energy_kwh is None
    assert figures.coverage_pct == D("0.0")


def test_coverage_counts_logger_seconds():
    figures = calc.run_energy(inside_wh=D("1500"), inside_s=D("900"), edge_wh=D("0"), edge_s=D("0"), duration_s=D("600"), logger_count=2)
    assert figures.energy_kwh == D("1.500")
    assert figures.coverage_pct == D("75.0")


def test_per_tonne_and_co2():
    assert calc.per_tonne(D("70.5"), D("1250"), 2) == D("56.40")
    assert calc.co2_kg(D("100"), D("0.443")) == D("44.300")
    assert calc.co2_kg(None, D("0.443")) is None
