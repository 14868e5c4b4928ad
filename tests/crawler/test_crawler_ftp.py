"""The crawler against a real FTP server (pyftpdlib) and a stand-in upload server: fetching, spooling, delivery,
idempotency, failures of the server and of loggers, catch-up, clock offsets and log lines."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from crawler.pw3360 import parse_pw3360
from tests.crawler.support import (
    TOKEN,
    UTF8,
    FTPServer,
    crawl,
    free_port,
    logger_toml,
    pending,
    rejected,
    spool_dir,
    write_config,
)


def by_path(server) -> dict:
    return {r.remote_path: r for r in server.accepted}


def summary_line(err: str) -> str:
    return [line for line in err.splitlines() if " summary " in line][-1]


# --------------------------------------------------------------------------------------------- fetching


def test_ftp_fetches_and_posts_every_split_part_and_nothing_else(tree, ftp_config, upload_server):
    assert crawl(ftp_config) == 0
    expected = tree.old_day_files + tree.day_files  # oldest day first, then folder and part order
    assert upload_server.paths() == expected
    for record in upload_server.accepted:
        raw = tree.path(record.remote_path).read_bytes()
        assert record.data == raw
        assert record.sha256 == hashlib.sha256(raw).hexdigest()
        assert record.logger == "A-11"
        assert record.filename == record.remote_path.rsplit("/", 1)[1]
    assert pending(ftp_config) == []
    state = json.loads((spool_dir(ftp_config) / "delivered.json").read_text())
    assert {path: rec["status"] for path, rec in state["files"]["A-11"].items()} == dict.fromkeys(expected, "delivered")


def test_second_run_of_the_same_day_downloads_and_posts_nothing(ftp_config, upload_server, capsys):
    assert crawl(ftp_config) == 0
    requests_after_first = upload_server.requests
    capsys.readouterr()
    assert crawl(ftp_config) == 0
    assert upload_server.requests == requests_after_first
    assert "fetched=0 unchanged=4 spooled=0 delivered=0" in summary_line(capsys.readouterr().err)


def test_a_touched_but_identical_file_is_downloaded_again_but_not_posted(tree, ftp_config, upload_server, capsys):
    assert crawl(ftp_config) == 0
    os.utime(tree.path(tree.day_files[0]), (time.time() + 5, time.time() + 5))
    capsys.readouterr()
    assert crawl(ftp_config) == 0
    err = capsys.readouterr().err
    assert "fetched=1 unchanged=4 spooled=0" in summary_line(err)
    assert "these bytes are already delivered" in err
    assert len(upload_server.accepted) == 4


def test_a_file_that_grew_is_uploaded_again(tree, ftp_config, upload_server):
    assert crawl(ftp_config) == 0
    grown = tree.path(tree.day_files[1])
    with grown.open("ab") as fh:
        fh.write(b"2026/03/02 18:01:00,00012:01:00,00000000,50.00,201.8,0.000,0.000,14152.500,0.000\r\n")
    assert crawl(ftp_config) == 0
    again = [r for r in upload_server.accepted if r.remote_path == tree.day_files[1]]
    assert len(again) == 2 and again[0].sha256 != again[1].sha256
    assert again[1].data == grown.read_bytes()
    assert len(upload_server.accepted) == 5


def test_a_minimal_ftp_server_without_mlsd_and_mdtm_is_listed_with_nlst_and_size(tree, tmp_path, upload_server, capsys):
    with FTPServer(tree.root, mlsd=False, mdtm=False) as ftp:
        config = write_config(tmp_path / "crawler.toml", upload_server.url, logger_toml("A-11", ftp.port))
        assert crawl(config) == 0
        assert upload_server.paths() == tree.old_day_files + tree.day_files
        capsys.readouterr()
        assert crawl(config) == 0  # no modification times: downloaded again, recognised by digest, not posted
        assert "spooled=0 delivered=0" in summary_line(capsys.readouterr().err)
        assert len(upload_server.accepted) == 4


# --------------------------------------------------------------------------------------------- days


def test_a_missed_day_is_caught_up_within_catch_up_days(tree, ftp_config, upload_server):
    assert crawl(ftp_config) == 0  # the run of 2026-03-02 also looks at the 7 days before
    assert set(tree.old_day_files) <= set(upload_server.paths())
    assert "/PW3360/26020100/02010000.CSV" not in upload_server.paths()  # 29 days before: outside the window


def test_without_catch_up_only_the_day_is_fetched(tree, tmp_path, ftp_server, upload_server):
    config = write_config(tmp_path / "crawler.toml", upload_server.url, logger_toml("A-11", ftp_server.port), site_extra="catch_up_days = 0")
    assert crawl(config) == 0
    assert upload_server.paths() == tree.day_files


def test_date_option_selects_the_day(tree, tmp_path, ftp_server, upload_server):
    config = write_config(tmp_path / "crawler.toml", upload_server.url, logger_toml("A-11", ftp_server.port), site_extra="catch_up_days = 0")
    assert crawl(config, day="2026-03-01") == 0
    assert upload_server.paths() == tree.old_day_files


def test_default_day_is_today_in_the_site_timezone(ftp_config, upload_server, capsys):
    today = datetime.now(ZoneInfo("Asia/Tokyo")).date()
    assert crawl(ftp_config, day=None) == 0
    assert f"run day={today.isoformat()} " in capsys.readouterr().err
    assert upload_server.accepted == []  # the fixture tree has nothing that recent


# --------------------------------------------------------------------------------------------- server failures


def test_server_answering_503_keeps_the_files_spooled_and_the_next_run_delivers_each_once(tree, ftp_config, upload_server):
    upload_server.mode = "503"
    assert crawl(ftp_config) == 3
    assert upload_server.accepted == []
    assert sorted(p["remote_path"] for p in pending(ftp_config)) == sorted(tree.old_day_files + tree.day_files)
    upload_server.mode = "ok"
    assert crawl(ftp_config) == 0
    assert sorted(upload_server.paths()) == sorted(tree.old_day_files + tree.day_files)
    assert pending(ftp_config) == []
    assert crawl(ftp_config) == 0
    assert len(upload_server.accepted) == 4


def test_server_refusing_connections_gives_exit_3_then_delivers_once_when_back(tree, tmp_path, ftp_server, upload_server, capsys):
    down = write_config(tmp_path / "crawler.toml", f"http://127.0.0.1:{free_port()}", logger_toml("A-11", ftp_server.port))
    assert crawl(down) == 3
    err = capsys.readouterr().err
    assert "server unreachable" in err and "4 uploads stay in the spool" in err
    assert len(pending(down)) == 4
    up = write_config(tmp_path / "crawler.toml", upload_server.url, logger_toml("A-11", ftp_server.port))
    assert crawl(up) == 0
    assert sorted(upload_server.paths()) == sorted(tree.old_day_files + tree.day_files)
    assert pending(up) == []


def test_connection_dropped_mid_upload_is_retried_and_delivered_once(ftp_config, upload_server, capsys):
    upload_server.mode, upload_server.mode_count = "drop", 1
    assert crawl(ftp_config) == 0
    assert len(upload_server.accepted) == 4
    assert len({(r.logger, r.sha256) for r in upload_server.accepted}) == 4
    assert upload_server.requests == 5
    assert "retry 1/1" in capsys.readouterr().err


def test_connection_dropped_after_the_server_stored_the_file_counts_as_delivered_once(ftp_config, upload_server, capsys):
    upload_server.mode, upload_server.mode_count = "drop_after_store", 1
    assert crawl(ftp_config) == 0
    assert len(upload_server.stored) == 4 and len(upload_server.accepted) == 4
    assert "already had it (duplicate" in capsys.readouterr().err


def test_connection_dropped_without_retries_waits_in_the_spool_for_the_next_run(tmp_path, ftp_server, upload_server):
    config = write_config(tmp_path / "crawler.toml", upload_server.url, logger_toml("A-11", ftp_server.port))
    config.write_text(config.read_text().replace("retries = 1", "retries = 0"))
    upload_server.mode, upload_server.mode_count = "drop", 1
    assert crawl(config) == 3  # the network failed: the other uploads wait too
    assert upload_server.accepted == [] and len(pending(config)) == 4
    assert crawl(config) == 0
    assert len(upload_server.accepted) == 4 and pending(config) == []


def test_token_refused_on_upload_exits_4_and_keeps_the_spool(ftp_config, upload_server, capsys):
    upload_server.mode = "401"
    assert crawl(ftp_config) == 4
    assert upload_server.requests == 1  # uploading stops at the first refusal
    assert len(pending(ftp_config)) == 4
    assert "refused the crawler token" in capsys.readouterr().err


def test_revoked_token_is_noticed_before_uploading(ftp_config, upload_server):
    upload_server.token = "revoked"
    assert crawl(ftp_config) == 4
    assert upload_server.requests == 0 and len(pending(ftp_config)) == 4
    upload_server.token = TOKEN
    assert crawl(ftp_config) == 0
    assert len(upload_server.accepted) == 4


def test_a_400_moves_the_file_to_rejected_and_later_runs_do_not_retry_it(tree, ftp_config, upload_server, capsys):
    upload_server.reject_names = {"03020001.CSV"}
    assert crawl(ftp_config) == 5
    assert tree.day_files[1] not in upload_server.paths() and len(upload_server.accepted) == 3
    [entry] = rejected(ftp_config)
    assert entry["remote_path"] == tree.day_files[1]
    assert entry["rejected"]["http_status"] == 400
    assert entry["rejected"]["reason"] == {"file": ["The file is not a PW3360 measurement file."]}
    blob = spool_dir(ftp_config) / "rejected" / (entry["sha256"] + ".A-11.csv")
    assert blob.read_bytes() == tree.path(tree.day_files[1]).read_bytes()
    assert pending(ftp_config) == []
    assert "server rejected /PW3360/26030200/03020001.CSV" in capsys.readouterr().err
    requests = upload_server.requests
    assert crawl(ftp_config) == 0
    assert upload_server.requests == requests


def test_server_clock_far_from_the_pi_is_reported(ftp_config, upload_server, capsys):
    upload_server.skew_s = 30
    assert crawl(ftp_config) == 0
    assert re.search(r"WARNING the Pi's clock differs from the server's by \+(29|30)\.\d s", capsys.readouterr().err)


# --------------------------------------------------------------------------------------------- loggers


def test_one_logger_unreachable_exits_2_and_the_other_is_still_delivered(tree, tmp_path, ftp_server, upload_server, capsys):
    loggers = logger_toml("B-12", free_port()) + logger_toml("A-11", ftp_server.port)
    config = write_config(tmp_path / "crawler.toml", upload_server.url, loggers)
    assert crawl(config) == 2
    assert sorted(upload_server.paths()) == sorted(tree.old_day_files + tree.day_files)
    assert {r.logger for r in upload_server.accepted} == {"A-11"}
    err = capsys.readouterr().err
    assert re.search(r"ERROR logger=B-12 unreachable: cannot connect to ftp://127\.0\.0\.1:\d+ as 'logger': connection refused", err)
    assert "unreachable=1 (B-12)" in summary_line(err)


def test_wrong_ftp_password_counts_as_unreachable(tmp_path, ftp_server, upload_server, capsys):
    logger = logger_toml("A-11", ftp_server.port).replace('password = "secret"', 'password = "wrong"')
    config = write_config(tmp_path / "crawler.toml", upload_server.url, logger)
    assert crawl(config) == 2
    assert "530" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------- rows and clocks


def test_fixed_clock_offset_is_applied_to_every_corrected_time(tmp_path, tree, ftp_server, upload_server):
    logger = logger_toml("A-11", ftp_server.port, clock="fixed", extra="clock_offset_s = -3")
    config = write_config(tmp_path / "crawler.toml", upload_server.url, logger)
    assert crawl(config) == 0
    upload = by_path(upload_server)[tree.day_files[0]]
    assert upload.corrected["timezone"] == "Asia/Tokyo"
    assert upload.corrected["offset_s"] == "-3.0"
    assert upload.corrected["rows"][0] == [11, "2026-03-02T06:01:00", "2026-03-02T06:00:57+09:00", "2.500"]
    assert upload.corrected["rows"][-1][:3] == [370, "2026-03-02T12:00:00", "2026-03-02T11:59:57+09:00"]
    sync = upload.sync
    assert sync["probe"] == "fixed" and sync["offset_s"] == "-3.0" and sync["stale"] is False and sync["uncertainty_s"] is None
    reference, logger_time = datetime.fromisoformat(sync["reference_time"]), datetime.fromisoformat(sync["logger_time"])
    assert logger_time.tzinfo is None and reference.utcoffset() == timedelta(hours=9)
    assert reference.replace(tzinfo=None) - logger_time == timedelta(seconds=-3)  # the server re-derives the offset from the pair


def test_clock_none_trusts_the_logger_and_records_the_run_time(tree, ftp_config, upload_server):
    assert crawl(ftp_config) == 0
    upload = by_path(upload_server)[tree.day_files[0]]
    assert upload.sync["probe"] == "none" and upload.sync["logger_time"] is None and upload.sync["offset_s"] == "0.0"
    assert abs(datetime.fromisoformat(upload.sync["reference_time"]).timestamp() - time.time()) < 60
    assert upload.corrected["rows"][0] == [11, "2026-03-02T06:01:00", "2026-03-02T06:01:00+09:00", "2.500"]


def test_the_second_split_part_continues_the_energy_of_the_first(tree, ftp_config, upload_server):
    assert crawl(ftp_config) == 0
    whole = {r.logger_time: r for r in parse_pw3360(UTF8.read_bytes(), filename=UTF8.name).readings}
    first_row = by_path(upload_server)[tree.day_files[1]].corrected["rows"][0]
    assert first_row[1] == "2026-03-02T12:01:00"
    assert Decimal(first_row[3]) == whole[datetime(2026, 3, 2, 12, 1)].energy_wh  # counter difference across the split


def test_a_garbled_csv_is_uploaded_raw_and_its_rows_skip_the_rejected_lines(tree, ftp_config, upload_server, capsys):
    path = tree.path(tree.day_files[0])
    lines = path.read_bytes().split(b"\r\n")
    lines[19] = lines[19].replace(b",2400.000,", b",*****,").rsplit(b",", 2)[0] + b",*****,0.000"  # line 20: error marker
    raw = b"\r\n".join(lines[:-1])[:-7]  # cut in the middle of the last row, no line end
    path.write_bytes(raw)
    assert crawl(ftp_config) == 0
    upload = by_path(upload_server)[tree.day_files[0]]
    assert upload.data == raw
    line_numbers = [row[0] for row in upload.corrected["rows"]]
    assert 20 not in line_numbers and 19 in line_numbers and 21 in line_numbers
    assert line_numbers[-1] == 369  # line 370 is cut short
    assert "2 rejected lines (first: line 20:" in capsys.readouterr().err


def test_a_file_the_parser_refuses_is_still_uploaded_raw_with_no_rows(tree, ftp_config, upload_server, capsys):
    garbage = b"this is not a measurement file\r\n"
    tree.path(tree.day_files[1]).write_bytes(garbage)
    assert crawl(ftp_config) == 0
    upload = by_path(upload_server)[tree.day_files[1]]
    assert upload.data == garbage and upload.corrected["rows"] == []
    assert "spooled /PW3360/26030200/03020001.CSV unparsed (03020001.CSV: no header row" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------- log lines


def test_log_lines_name_the_logger_path_size_and_digest(tree, ftp_config, capsys):
    assert crawl(ftp_config) == 0
    err = capsys.readouterr().err
    for remote in tree.day_files:
        raw = tree.path(remote).read_bytes()
        pattern = (rf"^\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\+09:00 INFO logger=A-11 fetched {re.escape(remote)} {len(raw)} bytes "
                   rf"sha256={hashlib.sha256(raw).hexdigest()}$")  # fmt: skip
        assert re.search(pattern, err, re.MULTILINE), remote
    last = err.strip().splitlines()[-1]
    assert re.fullmatch(r"\S+ INFO summary day=2026-03-02 loggers=1 unreachable=0 fetched=4 unchanged=0 spooled=4 delivered=4 "
                        r"duplicate=0 rejected=0 pending=0 exit=0", last)  # fmt: skip
