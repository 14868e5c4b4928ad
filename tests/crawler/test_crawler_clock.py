"""Clock arithmetic (pure): corrected times, sync pairs from each probe, decimal strings, MDTM replies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from crawler.clock import SyncPair, correct, decimal_str, fixed_pair, none_pair, pair_from_write_window, stale_pair
from crawler.sources import parse_mdtm

TOKYO = ZoneInfo("Asia/Tokyo")
BERLIN = ZoneInfo("Europe/Berlin")


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_correct_adds_the_offset_to_the_logger_wall_clock_in_the_site_zone():
    assert correct(datetime(2024, 11, 1, 10, 1), Decimal("-3.0"), TOKYO).isoformat() == "2024-11-01T10:00:57+09:00"
    assert correct(datetime(2024, 11, 1, 23, 59, 59), Decimal("1.5"), TOKYO).isoformat() == "2024-11-02T00:00:00.500000+09:00"


def test_correct_counts_real_seconds_across_a_daylight_saving_change():
    # 01:59:30 CET + 60 s is 03:00:30 CEST (the clocks jump from 02:00 to 03:00), not 02:00:30
    assert correct(datetime(2026, 3, 29, 1, 59, 30), Decimal(60), BERLIN).isoformat() == "2026-03-29T03:00:30+02:00"


@pytest.mark.parametrize("value, text", [(Decimal("-3"), "-3.0"), (Decimal("1.2500"), "1.25"), (Decimal("0.0004"), "0.0"),
                                         (Decimal("-0.0001"), "0.0"), (Decimal("42.0005"), "42.0"), (Decimal("1E+2"), "100.0")])  # fmt: skip
def test_decimal_strings_are_plain_with_at_most_three_decimals(value, text):
    assert decimal_str(value) == text


def test_none_pair_records_the_run_without_a_logger_reading():
    ref = datetime(2024, 11, 1, 18, 15, tzinfo=TOKYO)
    assert none_pair(ref).to_json() == {"probe": "none", "logger_time": None, "reference_time": "2024-11-01T18:15:00+09:00",
                                        "offset_s": "0.0", "uncertainty_s": None, "stale": False}  # fmt: skip


def test_fixed_pair_derives_the_logger_reading_from_the_offset():
    pair = fixed_pair(datetime(2024, 11, 1, 18, 15, tzinfo=TOKYO), Decimal("-3"), TOKYO)
    assert pair.to_json() == {"probe": "fixed", "logger_time": "2024-11-01T18:15:03", "reference_time": "2024-11-01T18:15:00+09:00",
                              "offset_s": "-3.0", "uncertainty_s": None, "stale": False}  # fmt: skip


@pytest.mark.parametrize(
    "rounding, logger_time, offset, uncertainty",
    [("down", "2024-11-01T18:15:03", "-3.0", "1.5"), ("up", "2024-11-01T18:15:01", "-1.0", "1.5"),
     ("unknown", "2024-11-01T18:15:02", "-2.0", "2.5")],
)  # fmt: skip
def test_a_write_window_gives_the_midpoints_and_the_sum_of_half_widths(rounding, logger_time, offset, uncertainty):
    pair = pair_from_write_window(probe="mtime", logger_stamp=datetime(2024, 11, 1, 18, 15, 2), resolution_s=Decimal(2),
                                  window_start=epoch("2024-11-01T18:14:59.500+09:00"), window_end=epoch("2024-11-01T18:15:00.500+09:00"),
                                  tz=TOKYO, rounding=rounding)  # fmt: skip
    assert pair.to_json() == {"probe": "mtime", "logger_time": logger_time, "reference_time": "2024-11-01T18:15:00+09:00",
                              "offset_s": offset, "uncertainty_s": uncertainty, "stale": False}  # fmt: skip
    assert pair.reference_time.replace(tzinfo=None) - pair.logger_time == timedelta(seconds=float(offset))


def test_a_write_window_keeps_milliseconds():
    pair = pair_from_write_window(probe="mtime", logger_stamp=datetime(2024, 11, 1, 9, 0, 0), resolution_s=Decimal(1),
                                  window_start=epoch("2024-11-01T00:00:41.100+00:00"), window_end=epoch("2024-11-01T00:00:41.350+00:00"),
                                  tz=TOKYO)  # fmt: skip
    assert pair.reference_time == datetime(2024, 11, 1, 0, 0, 41, 225000, tzinfo=UTC)
    assert (pair.offset_s, pair.uncertainty_s) == (Decimal("40.725"), Decimal("0.625"))
    assert pair.to_json()["logger_time"] == "2024-11-01T09:00:00.500"


def test_a_stale_pair_is_the_last_measured_one_flagged_or_offset_zero():
    ref = datetime(2024, 11, 2, 18, 15, tzinfo=TOKYO)
    last = SyncPair("mtime", datetime(2024, 11, 1, 12, 0, 3), datetime(2024, 11, 1, 12, 0, tzinfo=TOKYO), Decimal(-3), Decimal("0.6"))
    assert stale_pair("mtime", last, ref) == SyncPair("mtime", last.logger_time, last.reference_time, Decimal(-3), Decimal("0.6"), stale=True)
    assert stale_pair("mtime", None, ref).to_json() == {"probe": "mtime", "logger_time": None, "reference_time": "2024-11-02T18:15:00+09:00",
                                                        "offset_s": "0.0", "uncertainty_s": None, "stale": True}  # fmt: skip


def test_sync_pairs_survive_a_json_round_trip():
    pair = pair_from_write_window(probe="mtime", logger_stamp=datetime(2024, 11, 1, 18, 15, 2), resolution_s=Decimal(2),
                                  window_start=1730452499.25, window_end=1730452499.75, tz=TOKYO)  # fmt: skip
    assert SyncPair.from_json(pair.to_json()) == pair


@pytest.mark.parametrize("reply, stamp, resolution", [("213 20241101181502", datetime(2024, 11, 1, 18, 15, 2), None),
                                                      ("213 20241101181502.25", datetime(2024, 11, 1, 18, 15, 2, 250000), Decimal("0.01"))])  # fmt: skip
def test_mdtm_replies_are_read_with_their_fraction(reply, stamp, resolution):
    assert parse_mdtm(reply) == (stamp, resolution)


@pytest.mark.parametrize("reply", ["213 2024110118", "550 no such file", "213 20241101181502.x"])
def test_unexpected_mdtm_replies_are_refused(reply):
    with pytest.raises(ValueError):
        parse_mdtm(reply)
