"""PW3360 CSV parser: behaviour on the reconstructed fixtures, layout variants, row errors and fuzzed input.

Plain pytest, no database. The parser lives in the crawler package; the server imports it from there.
"""

from __future__ import annotations

import ast
import random
import subprocess
import sys
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run without the project's pytest configuration
    sys.path.insert(0, str(ROOT))

from crawler.pw3360 import PW3360FormatError, parse_pw3360  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "pw3360"
UTF8 = "pw3360-3p3w-utf8.CSV"
SJIS = "pw3360-1p2w-date-time-sjis.CSV"
RESTART = "pw3360-3p4w-restart.CSV"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def by_line(result) -> dict:
    return {r.line_no: r for r in result.readings}


HEADER = '"Date","Etime","Status","Psum_Avg[W]","WP+sum[Wh]","WP-sum[Wh]"'


def build(
    rows: list[str],
    *,
    interval: str | None = "1min",
    start: str | None = "2026/03/02 05:00:00",  # an hour before the rows: first-row energy unknown by default
    header: str = HEADER,
    newline: str = "\r\n",
    extra_settings: tuple[str, ...] = (),
) -> bytes:
    """A PW3360-style file: settings block, header, the given data rows (each already joined with commas)."""
    lines = ['"HIOKI PW3360-21","V3.21"', '"WIRING","3P4W"']
    if interval is not None:
        lines.append(f'"INTERVAL","{interval}"')
    lines += ['"VT(PT)","1.00"', '"CT","1.00"']
    if start is not None:
        lines.append(f'"START TIME","{start}"')
    lines += list(extra_settings)
    lines.append(header)
    lines += rows
    return (newline.join(lines) + newline).encode("utf-8")


def rows_every(step_s: int, counters: list[str], *, first: datetime = datetime(2026, 3, 2, 6, 0)) -> list[str]:
    """Rows stamped first+step, first+2*step, ... with the given WP+sum values (Etime = elapsed since first)."""
    out = []
    for i, value in enumerate(counters, start=1):
        t = first + timedelta(seconds=step_s * i)
        e = step_s * i
        out.append(f"{t:%Y/%m/%d %H:%M:%S},{e // 3600:05d}:{e // 60 % 60:02d}:{e % 60:02d},00000000,0,{value},0.000")
    return out


# First data line of every synthetic file built by build() with the default settings.
FIRST = 8


# ------------------------------------------------------------------------------------------------ the fixtures


def test_three_phase_utf8_fixture():
    result = parse_pw3360(fixture(UTF8), filename=UTF8)
    assert (result.encoding, result.wiring, result.interval_s) == ("utf-8", "3P3W2M", 60)
    assert result.energy_column == "WP+sum[Wh]"
    assert result.start_time == datetime(2026, 3, 2, 6, 0)
    assert result.settings["MEMO"] == "集塵機"
    assert result.settings["VT(PT)"] == "1.00" and result.settings["CT"] == "1.00"
    assert result.header_line == 10
    assert len(result.readings) == 720 and result.rejected == []
    rows = by_line(result)
    # line 11: 06:01:00, counter 2.500 Wh; START TIME 06:00:00 is its interval start, so the counter started at 0
    assert rows[11].logger_time == datetime(2026, 3, 2, 6, 1)
    assert rows[11].cumulative_wh == Decimal("2.5") and rows[11].energy_wh == Decimal("2.5")
    assert rows[12].energy_wh == Decimal("2.5")  # 5.000 - 2.500
    assert rows[13].energy_wh == Decimal("40")  # 45.000 - 5.000
    assert rows[14].energy_wh == Decimal("0")  # 45.000 - 45.000
    assert rows[730].logger_time == datetime(2026, 3, 2, 18, 0)
    assert rows[730].cumulative_wh == Decimal("14152.5") and rows[730].energy_wh == Decimal("55")  # - 14097.500
    assert sum(r.energy_wh for r in result.readings) == Decimal("14152.5")
    assert not any(r.restarted for r in result.readings)
    assert result.off_grid_lines == []


def test_single_phase_shift_jis_fixture_with_date_and_time_columns():
    result = parse_pw3360(fixture(SJIS), filename=SJIS)
    assert (result.encoding, result.wiring, result.interval_s) == ("cp932", "1P2W", 60)
    assert result.energy_column == "WP+1[Wh]"
    assert result.settings["MEMO"] == "集塵機"
    assert len(result.readings) == 720 and result.rejected == []
    rows = by_line(result)
    assert rows[11].logger_time == datetime(2026, 3, 2, 6, 1)
    assert rows[11].energy_wh == Decimal("0")  # counter 0.000 at the first interval
    assert rows[12].energy_wh == Decimal("2.5")  # 2.500 - 0.000
    assert rows[13].energy_wh == Decimal("40")  # 42.500 - 2.500
    assert rows[730].logger_time == datetime(2026, 3, 2, 18, 0)
    assert rows[730].cumulative_wh == Decimal("13272.5") and rows[730].energy_wh == Decimal("55")  # - 13217.500


def test_restart_fixture_gives_the_new_counter_value_and_never_a_negative_energy():
    result = parse_pw3360(fixture(RESTART), filename=RESTART)
    assert (result.wiring, result.energy_column, result.rejected) == ("3P4W", "WP+sum[Wh]", [])
    assert len(result.readings) == 120
    rows = by_line(result)
    assert rows[11].energy_wh == Decimal("55")  # first interval, counter from 0
    assert rows[70].energy_wh == Decimal("2.5")  # 07:00 1147.500 - 1145.000
    restart = rows[71]  # 07:01 counter 40.000 after 1147.500
    assert restart.logger_time == datetime(2026, 3, 2, 7, 1)
    assert restart.restarted and restart.energy_wh == Decimal("40")
    assert rows[72].energy_wh == Decimal("55") and not rows[72].restarted  # 95.000 - 40.000
    assert [r.line_no for r in result.readings if r.restarted] == [71]
    assert all(r.energy_wh is not None and r.energy_wh >= 0 for r in result.readings)
    assert sum(r.energy_wh for r in result.readings) == Decimal("1147.5") + Decimal("755")


# ------------------------------------------------------------------------------------------------ encodings, line ends


def test_utf8_bom_is_detected_and_parsed():
    plain = parse_pw3360(fixture(UTF8), filename=UTF8)
    bom = parse_pw3360(b"\xef\xbb\xbf" + fixture(UTF8), filename=UTF8)
    assert bom.encoding == "utf-8-sig"
    assert bom.readings == plain.readings and bom.settings == plain.settings


def test_shift_jis_memo_in_a_synthetic_file():
    data = build(rows_every(60, ["1.0", "2.0"]), extra_settings=('"MEMO","破砕機ライン"',))
    result = parse_pw3360(data.decode("utf-8").encode("cp932"), filename="0302.CSV")
    assert result.encoding == "cp932" and result.settings["MEMO"] == "破砕機ライン"
    assert [r.energy_wh for r in result.readings] == [None, Decimal("1.0")]


def test_blank_trailing_lines_are_ignored():
    result = parse_pw3360(fixture(UTF8) + b"\r\n\r\n   \r\n\n", filename=UTF8)
    assert len(result.readings) == 720 and result.rejected == []


def test_lf_line_ends_and_quoted_data_cells():
    rows = [",".join(f'"{c}"' for c in row.split(",")) for row in rows_every(60, ["10.0", "12.5", "20.0"])]
    result = parse_pw3360(build(rows, newline="\n"), filename="q.CSV")
    assert [r.cumulative_wh for r in result.readings] == [Decimal("10"), Decimal("12.5"), Decimal("20")]
    assert [r.energy_wh for r in result.readings] == [None, Decimal("2.5"), Decimal("7.5")]


@pytest.mark.parametrize(
    "data",
    [
        "Date,WP+sum[Wh]\r\n2026/03/02 06:01:00,1.0\r\n".encode("utf-16"),
        "Date,WP+sum[Wh]\r\n".encode("utf-16-be"),
        b"\x81\x20" * 200,  # a Shift_JIS lead byte followed by an invalid trail byte: neither UTF-8 nor CP932
    ],
    ids=["utf-16", "utf-16-be-no-bom", "bad-shift-jis"],
)
def test_wrong_encoding_names_the_file(data):
    with pytest.raises(PW3360FormatError, match=r"^0302X000\.CSV: wrong encoding"):
        parse_pw3360(data, filename="0302X000.CSV")


def test_random_bytes_raise_a_format_error_naming_the_file():
    rng = random.Random(3360)
    for _ in range(20):
        data = bytes(rng.randrange(256) for _ in range(2000))
        with pytest.raises(PW3360FormatError, match=r"^noise\.CSV: "):
            parse_pw3360(data, filename="noise.CSV")


# ------------------------------------------------------------------------------------------------ whole-file errors


def test_missing_header_names_the_file():
    data = b'"WIRING","3P4W"\r\n"INTERVAL","1min"\r\n2026/03/02 06:01:00,1.0\r\n'
    with pytest.raises(PW3360FormatError, match=r"^03020000\.CSV: no header row starting with 'Date' found$"):
        parse_pw3360(data, filename="03020000.CSV")


def test_empty_file_has_no_header():
    with pytest.raises(PW3360FormatError, match="^empty.CSV: no header row"):
        parse_pw3360(b"", filename="empty.CSV")


def test_missing_energy_column_names_the_file_and_the_columns():
    data = build(["2026/03/02 06:01:00,0,0,0"], header='"Date","Etime","Status","Psum_Avg[W]","WP-sum[Wh]"')
    with pytest.raises(PW3360FormatError) as err:
        parse_pw3360(data, filename="0302.CSV")
    message = str(err.value)
    assert message.startswith("0302.CSV: line 7: no WP+ energy column")
    assert "'Psum_Avg[W]'" in message and "'WP-sum[Wh]'" in message


def test_energy_column_without_a_unit_is_refused():
    with pytest.raises(PW3360FormatError, match="no WP\\+ energy column"):
        parse_pw3360(build(["2026/03/02 06:01:00,1.0"], header="Date,WP+sum"), filename="u.CSV")


def test_several_channels_without_a_sum_need_an_explicit_column():
    header = "Date,WP+1[Wh],WP+2[Wh]"
    rows = ["2026/03/02 06:01:00,1.0,10.0", "2026/03/02 06:02:00,3.0,15.0"]
    with pytest.raises(PW3360FormatError, match="several WP\\+ channels.*energy_column="):
        parse_pw3360(build(rows, header=header), filename="c.CSV")
    result = parse_pw3360(build(rows, header=header), filename="c.CSV", energy_column="WP+2[Wh]")
    assert result.energy_column == "WP+2[Wh]"
    assert [r.energy_wh for r in result.readings] == [None, Decimal("5")]


@pytest.mark.parametrize("interval", ["3min", "7sec", "2h", "fast", "", "0"])
def test_interval_outside_the_pw3360_settings_is_refused(interval):
    with pytest.raises(PW3360FormatError, match=r"^i\.CSV: INTERVAL"):
        parse_pw3360(build(rows_every(60, ["1"]), interval=interval), filename="i.CSV")


def test_missing_interval_is_refused():
    with pytest.raises(PW3360FormatError, match=r"^i\.CSV: no INTERVAL"):
        parse_pw3360(build(rows_every(60, ["1"]), interval=None), filename="i.CSV")


def test_previous_value_must_be_decimal_not_float():
    with pytest.raises(TypeError):
        parse_pw3360(fixture(RESTART), filename=RESTART, previous_cumulative_wh=1.5)


# ------------------------------------------------------------------------------------------------ intervals, layouts


@pytest.mark.parametrize(
    "text, seconds",
    [("1min", 60), ("1 min", 60), ("00:01:00", 60), ("60", 60), ("30sec", 30), ("30s", 30), ("1sec", 1),
     ("15min", 900), ("00:15:00", 900), ("20min", 1200), ("60min", 3600), ("1h", 3600), ("5分", 300)],
)  # fmt: skip
def test_interval_is_read_from_the_setting(text, seconds):
    result = parse_pw3360(build(rows_every(seconds, ["1.0", "1.5", "4.0"]), interval=text), filename="i.CSV")
    assert result.interval_s == seconds
    assert [r.energy_wh for r in result.readings] == [None, Decimal("0.5"), Decimal("2.5")]
    assert result.off_grid_lines == []


def test_thirty_second_rows_in_a_one_minute_file_are_gaps_not_intervals():
    result = parse_pw3360(build(rows_every(30, ["1.0", "1.5", "4.0"]), interval="1min"), filename="i.CSV")
    assert [r.energy_wh for r in result.readings] == [None, None, None]
    assert result.off_grid_lines == [FIRST, FIRST + 2]  # 06:00:30 and 06:01:30


def test_extra_columns_in_another_order_with_kwh_and_a_separate_time_column():
    header = '"Date","WP+sum[kWh]","Status","Pdem+sum[W]","Time","WP-sum[kWh]","Freq_Avg[Hz]"'
    rows = [
        "2026/03/02,1.2345,00000000,0,06:01:00,0.5,50.00",
        "2026/03/02,1.2500,00000000,0,06:02:00,0.5,50.00",
    ]
    result = parse_pw3360(build(rows, header=header), filename="k.CSV")
    assert result.energy_column == "WP+sum[kWh]"
    assert [r.logger_time for r in result.readings] == [datetime(2026, 3, 2, 6, 1), datetime(2026, 3, 2, 6, 2)]
    assert [r.cumulative_wh for r in result.readings] == [Decimal("1234.5"), Decimal("1250")]
    assert result.readings[1].energy_wh == Decimal("15.5")  # (1.2500 - 1.2345) kWh, exactly


def test_channel_without_number_and_trailing_empty_cells():
    rows = ["2026/03/02 06:01:00,1.0,,", "2026/03/02 06:02:00,2.0,,"]
    result = parse_pw3360(build(rows, header="Date,WP+[Wh]"), filename="t.CSV")
    assert result.energy_column == "WP+[Wh]" and result.rejected == []
    assert result.readings[1].energy_wh == Decimal("1.0")


@pytest.mark.parametrize(
    "cell, expected",
    [
        ("2022/11/25 10:01:00", datetime(2022, 11, 25, 10, 1)),
        ("2022-11-25 10:01:00", datetime(2022, 11, 25, 10, 1)),
        ("2022.11.25 10:01:00", datetime(2022, 11, 25, 10, 1)),
        ("2022-11-25T10:01:00", datetime(2022, 11, 25, 10, 1)),
        ("22/11/25 10:01:00", datetime(2022, 11, 25, 10, 1)),
        ("2022/11/25 10:01", datetime(2022, 11, 25, 10, 1)),
        ("2022/1/5 9:01:00", datetime(2022, 1, 5, 9, 1)),
        ("2022/11/25 10:01:00.500", datetime(2022, 11, 25, 10, 1, 0, 500000)),
        ("2022/11/25 24:00:00", datetime(2022, 11, 26, 0, 0)),
    ],
)
def test_accepted_date_formats(cell, expected):
    result = parse_pw3360(build([f"{cell},0,0,0,1.0,0"], start=None), filename="d.CSV")
    assert result.rejected == [] and result.readings[0].logger_time == expected


@pytest.mark.parametrize(
    "cell, reason",
    [
        ("25/11/2022 10:01:00", "unparseable time '25/11/2022 10:01:00'"),  # day first: never guessed
        ("2022/11/25", "unparseable time '2022/11/25'"),  # no time and no Time column
        ("2022/11-25 10:01:00", "unparseable time"),  # mixed separators
        ("2022/02/30 10:01:00", "impossible date/time '2022/02/30 10:01:00'"),
        ("2022/11/25 24:01:00", "impossible date/time"),
        ("2022/11/25 10:61:00", "impossible date/time"),
    ],
)
def test_refused_date_formats(cell, reason):
    result = parse_pw3360(build([f"{cell},0,0,0,1.0,0"]), filename="d.CSV")
    assert result.readings == []
    assert [r.line_no for r in result.rejected] == [FIRST]
    assert result.rejected[0].reason.startswith(f"line {FIRST}: {reason}")


def test_separate_date_and_time_columns_with_a_two_digit_year():
    rows = ["26/03/02,06:01:00,1.0", "26/03/02,06:02:00,3.5"]
    result = parse_pw3360(build(rows, header="Date,Time,WP+sum[Wh]", start="2026/03/02 06:00:00"), filename="s.CSV")
    assert [r.logger_time for r in result.readings] == [datetime(2026, 3, 2, 6, 1), datetime(2026, 3, 2, 6, 2)]
    assert result.readings[0].energy_wh == Decimal("1.0")  # START TIME 06:00:00 is the first interval's start
    assert result.readings[1].energy_wh == Decimal("2.5")


# ------------------------------------------------------------------------------------------------ row-level problems


def test_truncated_last_row_is_rejected_with_its_line_number_and_the_rest_kept():
    data = fixture(UTF8)
    cut = data[: data.rindex(b"\r\n", 0, len(data) - 2) + 2] + b"2026/03/02 18:00:00,00012:00:00,000"
    result = parse_pw3360(cut, filename=UTF8)
    assert len(result.readings) == 719
    assert [(r.line_no, r.reason) for r in result.rejected] == [(730, "line 730: truncated row (3 of 9 columns)")]
    assert result.readings[-1].line_no == 729 and result.readings[-1].cumulative_wh == Decimal("14097.5")


def test_last_row_cut_inside_its_last_number_is_rejected():
    data = build(rows_every(60, ["13272.500", "13300.000"])).rstrip(b"\r\n")[:-4]  # '13300.000' -> '13300'
    result = parse_pw3360(data, filename="w.CSV")
    assert [r.line_no for r in result.readings] == [FIRST]
    assert result.rejected[0].line_no == FIRST + 1
    assert "incomplete last line" in result.rejected[0].reason


def test_nul_padding_after_a_power_loss_is_rejected():
    result = parse_pw3360(build(rows_every(60, ["1.0", "2.0"])) + b"\x00" * 300, filename="n.CSV")
    assert len(result.readings) == 2
    assert [r.line_no for r in result.rejected] == [FIRST + 2]
    assert "NUL bytes" in result.rejected[0].reason


def test_garbled_row_in_the_middle_is_rejected_and_the_next_energy_is_unknown():
    lines = fixture(UTF8).split(b"\r\n")
    assert lines[39].startswith(b"2026/03/02 06:30:00,")  # line 40
    cells = lines[39].split(b",")
    cells[7] = b"abc"
    lines[39] = b",".join(cells)
    result = parse_pw3360(b"\r\n".join(lines), filename=UTF8)
    assert [(r.line_no, r.reason) for r in result.rejected] == [(40, "line 40: WP+sum[Wh] is not a number: 'abc'")]
    assert len(result.readings) == 719
    rows = by_line(result)
    assert 40 not in rows
    assert rows[41].energy_wh is None  # a two-interval gap after line 39: not attributable to one interval
    assert rows[42].energy_wh == rows[42].cumulative_wh - rows[41].cumulative_wh


@pytest.mark.parametrize(
    "cell, reason",
    [
        ("-----", "WP+sum[Wh] holds a measurement-error marker '-----'"),
        ("OVER", "WP+sum[Wh] holds a measurement-error marker 'OVER'"),
        ("+OVER", "WP+sum[Wh] holds a measurement-error marker '+OVER'"),
        ("", "WP+sum[Wh] is blank"),
        ("NaN", "WP+sum[Wh] is not a number: 'NaN'"),
        ("1_000", "WP+sum[Wh] is not a number: '1_000'"),
        ("-3.0", "WP+sum[Wh] is negative: '-3.0'"),
    ],
)
def test_measurement_error_markers_and_bad_numbers_are_rejected(cell, reason):
    rows = rows_every(60, ["1.0", cell, "3.0"])
    result = parse_pw3360(build(rows), filename="m.CSV")
    assert [(r.line_no, r.reason) for r in result.rejected] == [(FIRST + 1, f"line {FIRST + 1}: {reason}")]
    assert [r.line_no for r in result.readings] == [FIRST, FIRST + 2]
    assert result.readings[1].energy_wh is None


def test_exponent_notation_is_a_number():
    result = parse_pw3360(build(rows_every(60, ["1.0E+03", "1.0025E+03"])), filename="e.CSV")
    assert result.readings[1].energy_wh == Decimal("2.5")


def test_duplicate_timestamp_and_time_going_backwards():
    rows = rows_every(60, ["1.0", "2.0", "3.0"])  # 06:01, 06:02, 06:03
    rows.insert(2, rows[1].replace(",2.0,", ",9.0,"))  # 06:02 again, other counter
    rows.insert(3, rows[0])  # 06:01 again
    result = parse_pw3360(build(rows), filename="o.CSV")
    assert [(r.line_no, r.reason) for r in result.rejected] == [
        (FIRST + 2, f"line {FIRST + 2}: duplicate timestamp 2026-03-02 06:02:00 (first at line {FIRST + 1})"),
        (FIRST + 3, f"line {FIRST + 3}: time goes backwards (2026-03-02 06:01:00 after 2026-03-02 06:02:00 at line 9)"),
    ]
    rows_ = by_line(result)
    # 06:03 is one interval after the accepted 06:02 row: its energy is computed against that row
    assert rows_[FIRST + 4].energy_wh == Decimal("1.0")


def test_missing_rows_make_a_gap_with_unknown_energy():
    rows = rows_every(60, ["1.0", "2.0", "3.0", "4.0"])
    del rows[1]  # 06:02 missing
    result = parse_pw3360(build(rows), filename="g.CSV")
    assert [r.energy_wh for r in result.readings] == [None, None, Decimal("1.0")]  # 06:01 first, 06:03 after a gap


def test_restart_across_a_gap_is_flagged_with_unknown_energy():
    rows = rows_every(60, ["100.0", "200.0", "5.0", "7.0"])
    del rows[1]
    result = parse_pw3360(build(rows, start="2026/03/02 06:00:00"), filename="g.CSV")
    assert [(r.energy_wh, r.restarted) for r in result.readings] == [
        (Decimal("100.0"), False),  # recording began at START TIME 06:00 (and Etime is one interval)
        (None, True),  # 06:03 after 06:01: counter fell, but across a gap
        (Decimal("2.0"), False),
    ]


def test_off_grid_timestamp_is_accepted_and_listed():
    rows = rows_every(60, ["1.0", "2.0", "3.0"])
    rows[1] = rows[1].replace("06:02:00,", "06:02:30,", 1)
    result = parse_pw3360(build(rows), filename="g.CSV")
    assert len(result.readings) == 3 and result.rejected == []
    assert result.off_grid_lines == [FIRST + 1]
    assert [r.energy_wh for r in result.readings] == [None, None, None]  # spacings of 90 s and 30 s: not one interval


def test_broken_quoting_and_too_many_columns_are_rejected():
    rows = rows_every(60, ["1.0", "2.0", "3.0"])
    rows[1] = rows[1] + ',"x'
    rows[2] = rows[2] + ",9,9"
    result = parse_pw3360(build(rows), filename="b.CSV")
    reasons = {r.line_no: r.reason for r in result.rejected}
    assert reasons[FIRST + 1].startswith(f"line {FIRST + 1}: ")
    assert reasons[FIRST + 2] == f"line {FIRST + 2}: too many columns (8, the header has 6)"


def test_repeated_header_row_is_named():
    rows = rows_every(60, ["1.0", "2.0"])
    rows.insert(1, HEADER)
    result = parse_pw3360(build(rows), filename="h.CSV")
    assert [r.reason for r in result.rejected] == [f"line {FIRST + 1}: repeated header row"]


# ------------------------------------------------------------------------------------------------ the first row


def test_first_row_energy_is_unknown_when_the_recording_started_earlier():
    rows = rows_every(60, ["500.0", "502.5"], first=datetime(2026, 3, 2, 9, 0))
    result = parse_pw3360(build(rows, start="2026/03/02 06:00:00"), filename="f.CSV")
    assert [r.energy_wh for r in result.readings] == [None, Decimal("2.5")]


def test_first_row_energy_is_unknown_when_the_recording_started_inside_the_first_interval():
    result = parse_pw3360(build(rows_every(60, ["1.0", "2.0"]), start="2026/03/02 06:00:20"), filename="f.CSV")
    assert result.readings[0].energy_wh is None


def test_start_time_equal_to_interval_start_but_etime_disagreeing_is_not_trusted():
    # a split file whose START TIME would be the file's start while the counter (and Etime) run since 06:00
    rows = rows_every(60, ["500.0", "502.5"], first=datetime(2026, 3, 2, 6, 0))
    rows = [r.replace(",00000:01:00,", ",00003:01:00,").replace(",00000:02:00,", ",00003:02:00,") for r in rows]
    result = parse_pw3360(build(rows, start="2026/03/02 06:00:00"), filename="f.CSV")
    assert [r.energy_wh for r in result.readings] == [None, Decimal("2.5")]


# ------------------------------------------------------------------------------------------------ split files


def split_fixture(at_line: int) -> tuple[bytes, bytes]:
    """The UTF-8 fixture split before physical line `at_line`, the second part with the same settings block."""
    lines = fixture(UTF8).split(b"\r\n")
    head = lines[:10]
    return b"\r\n".join(lines[: at_line - 1]) + b"\r\n", b"\r\n".join(head + lines[at_line - 1 :])


def test_previous_cumulative_chains_split_files():
    first_bytes, second_bytes = split_fixture(400)
    first = parse_pw3360(first_bytes, filename="03020000.CSV")
    last = first.readings[-1]
    assert last.line_no == 399 and last.logger_time == datetime(2026, 3, 2, 12, 29)

    alone = parse_pw3360(second_bytes, filename="03020001.CSV")
    assert alone.readings[0].energy_wh is None  # unknown from the file alone

    chained = parse_pw3360(
        second_bytes,
        filename="03020001.CSV",
        previous_cumulative_wh=last.cumulative_wh,
        previous_logger_time=last.logger_time,
    )
    assert chained.readings[0].energy_wh == chained.readings[0].cumulative_wh - last.cumulative_wh
    whole = by_line(parse_pw3360(fixture(UTF8), filename=UTF8))
    assert chained.readings[0].energy_wh == whole[400].energy_wh
    total = sum(r.energy_wh for r in first.readings + chained.readings)
    assert total == Decimal("14152.5")

    # the value alone (no time) is trusted too
    value_only = parse_pw3360(second_bytes, filename="03020001.CSV", previous_cumulative_wh=last.cumulative_wh)
    assert value_only.readings[0].energy_wh == whole[400].energy_wh


def test_previous_value_from_a_non_adjacent_row_gives_unknown_energy():
    first_bytes, second_bytes = split_fixture(400)
    first = parse_pw3360(first_bytes, filename="03020000.CSV")
    earlier = first.readings[-2]
    chained = parse_pw3360(
        second_bytes,
        filename="03020001.CSV",
        previous_cumulative_wh=earlier.cumulative_wh,
        previous_logger_time=earlier.logger_time,
    )
    assert chained.readings[0].energy_wh is None


def test_rows_not_after_the_previous_file_are_rejected():
    _, second_bytes = split_fixture(400)
    result = parse_pw3360(
        second_bytes,
        filename="03020001.CSV",
        previous_cumulative_wh=Decimal("1000"),
        previous_logger_time=datetime(2026, 3, 2, 12, 30),  # the stamp of the second file's first row
    )
    assert result.rejected[0].reason == (
        "line 11: duplicate timestamp 2026-03-02 12:30:00 (first at the previous file's last row)"
    )


def test_previous_value_from_an_older_recording_is_ignored_at_a_new_start():
    previous = dict(previous_cumulative_wh=Decimal("1.0"), previous_logger_time=datetime(2026, 3, 1, 17, 59))
    result = parse_pw3360(fixture(UTF8), filename=UTF8, **previous)
    first = result.readings[0]
    assert first.energy_wh == Decimal("2.5")  # recording started at START TIME 06:00: 2.5 - 1.0 would be wrong


def test_restart_at_the_first_row_of_a_chained_file():
    _, second_bytes = split_fixture(400)
    result = parse_pw3360(second_bytes, filename="03020001.CSV", previous_cumulative_wh=Decimal("99999"))
    assert result.readings[0].restarted
    assert result.readings[0].energy_wh == result.readings[0].cumulative_wh


# ------------------------------------------------------------------------------------------------ standalone


def test_module_uses_the_standard_library_only_and_imports_standalone():
    path = ROOT / "crawler" / "pw3360.py"
    allowed = {"__future__", "codecs", "csv", "dataclasses", "datetime", "decimal", "io", "re"}
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports"
            imported.add(node.module.split(".")[0])
    assert imported <= allowed, imported - allowed
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('pw3360', {str(path)!r})\n"
        "mod = importlib.util.module_from_spec(spec); sys.modules['pw3360'] = mod; spec.loader.exec_module(mod)\n"
        f"r = mod.parse_pw3360(open({str(FIXTURES / RESTART)!r}, 'rb').read(), filename='x.CSV')\n"
        "assert len(r.readings) == 120 and 'django' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-I", "-B", "-c", code], check=True, timeout=60)


# ------------------------------------------------------------------------------------------------ fuzz

FIXTURE_BYTES = {name: fixture(name) for name in (UTF8, SJIS, RESTART)}
INTERESTING = [b",", b"\r\n", b"\n", b'"', b"\x00", b"-----", b"OVER", b"9", b".", b"/", b":", b" ", b"\xff", b"\xe9"]

CELLS = [b"", b"-----", b"OVER", b"abc", b"NaN", b"-1.0", b"1e5", b"0", b"99999999.9", b"2026/03/02 06:30:00"]


@st.composite
def mutated_fixture(draw):
    data = bytearray(FIXTURE_BYTES[draw(st.sampled_from(sorted(FIXTURE_BYTES)))])
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["delete", "insert", "replace", "truncate", "duplicate_line", "delete_line", "cell"]))
        pos = draw(st.integers(0, len(data)))
        if op == "cell":  # replace one cell of the line holding `pos`
            start = data.rfind(b"\n", 0, pos) + 1
            end = data.find(b"\n", pos)
            end = len(data) if end < 0 else end
            cells = bytes(data[start:end]).split(b",")
            cells[draw(st.integers(0, len(cells) - 1))] = draw(st.one_of(st.sampled_from(CELLS), st.binary(max_size=6)))
            data[start:end] = b",".join(cells)
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 40))]
        elif op == "insert":
            data[pos:pos] = draw(st.one_of(st.sampled_from(INTERESTING), st.binary(min_size=1, max_size=8)))
        elif op == "replace":
            chunk = draw(st.one_of(st.sampled_from(INTERESTING), st.binary(min_size=1, max_size=4)))
            data[pos : pos + len(chunk)] = chunk
        elif op == "truncate":
            del data[pos:]
        else:
            start = data.rfind(b"\n", 0, pos) + 1
            end = data.find(b"\n", pos)
            end = len(data) if end < 0 else end + 1
            if op == "duplicate_line":
                data[end:end] = data[start:end]
            else:
                del data[start:end]
    return bytes(data)


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_fixture())
def test_fuzzed_fixture_bytes_never_lose_a_line_silently(data):
    try:
        result = parse_pw3360(data, filename="fuzz.CSV")
    except PW3360FormatError as exc:
        assert str(exc).startswith("fuzz.CSV: ")
        return
    lines = data.decode(result.encoding).split("\n")
    assert lines[result.header_line - 1].replace('"', "").strip().casefold().startswith("date")
    data_lines = {i + 1 for i in range(result.header_line, len(lines)) if lines[i].strip()}
    read = [r.line_no for r in result.readings]
    refused = [r.line_no for r in result.rejected]
    assert len(set(read)) == len(read) and len(set(refused)) == len(refused)
    assert not set(read) & set(refused)
    assert set(read) | set(refused) == data_lines  # every data line is a reading or a rejection
    for r in result.rejected:
        assert r.reason.startswith(f"line {r.line_no}: ")
    interval = timedelta(seconds=result.interval_s)
    previous = None
    for r in result.readings:
        assert isinstance(r.logger_time, datetime) and r.logger_time.tzinfo is None
        assert isinstance(r.cumulative_wh, Decimal) and r.cumulative_wh.is_finite() and r.cumulative_wh >= 0
        if previous is not None:
            assert r.logger_time > previous.logger_time
            assert r.restarted == (r.cumulative_wh < previous.cumulative_wh)
        if r.energy_wh is not None:
            assert isinstance(r.energy_wh, Decimal) and r.energy_wh >= 0
            if previous is not None:  # only ever computed over exactly one interval
                assert r.logger_time - previous.logger_time == interval
                expected = r.cumulative_wh if r.restarted else r.cumulative_wh - previous.cumulative_wh
                assert r.energy_wh == expected
            else:
                assert r.energy_wh == r.cumulative_wh  # first row: only when the recording began there
        previous = r
