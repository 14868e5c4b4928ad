"""The automatic clock probe ("mtime") against real FTP and SFTP servers: a thread plays the logger, appending a row
and stamping the file with a clock 42 s slow while the crawler polls; and the fallbacks when it cannot measure."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from crawler.__main__ import main
from tests.crawler.support import RESTART, FTPServer, SFTPServer, crawl, free_port, logger_toml, spool_dir, write_config

TOKYO = ZoneInfo("Asia/Tokyo")
LAG_S = 42  # the simulated logger clock is 42 s slow: offset (reference - logger) = +42 s
PROBE = 'mtime_zone = "UTC"\nmtime_resolution_s = 1\nmtime_rounding = "down"\nprobe_poll_s = 0.05\nprobe_timeout_s = {timeout}'


def todays_file(root: Path) -> tuple[Path, str]:
    """The file a recording logger is writing now (folder and name of today in the site's zone)."""
    today = datetime.now(TOKYO).date()
    remote = f"/PW3360/{today:%y%m%d}00/{today:%m%d}0000.CSV"
    path = root / remote.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(RESTART.read_bytes())
    old = time.time() - LAG_S - 10
    os.utime(path, (old, old))
    return path, remote


class LoggerWriter(threading.Thread):
    """Appends one row after ``delay`` s and stamps the file with the slow logger clock."""

    def __init__(self, path: Path, delay: float = 0.6):
        super().__init__(daemon=True)
        self.path, self.delay = path, delay
        self.written_at: float | None = None

    def run(self):
        time.sleep(self.delay)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_bytes(self.path.read_bytes() + b"2026/03/02 08:01:00,00002:01:00,00000000,50.00,201.8,0.000,0.000,5000.000,0.000\r\n")
        self.written_at = time.time()
        stamp = self.written_at - LAG_S
        os.utime(tmp, (stamp, stamp))
        os.replace(tmp, self.path)  # the new bytes and the slow clock's stamp appear together


def probe_config(tmp_path, port, upload_url, *, protocol="ftp", timeout=10, extra="") -> Path:
    logger = logger_toml("A-11", port, protocol=protocol, clock="mtime", extra=PROBE.format(timeout=timeout) + "\n" + extra)
    return write_config(tmp_path / "crawler.toml", upload_url, logger, site_extra="catch_up_days = 0")


def check_measured(sync: dict, written_at: float) -> None:
    assert sync["probe"] == "mtime" and sync["stale"] is False
    offset, uncertainty = Decimal(sync["offset_s"]), Decimal(sync["uncertainty_s"])
    assert uncertainty <= Decimal("1.0")  # half a second of file-time resolution + half the bracket of two polls
    assert abs(offset - LAG_S) <= uncertainty
    reference = datetime.fromisoformat(sync["reference_time"])
    assert abs(reference.timestamp() - written_at) <= float(uncertainty)  # the pair is the write we made, not the run's start
    logger_time = datetime.fromisoformat(sync["logger_time"])
    assert logger_time.tzinfo is None
    assert reference.replace(tzinfo=None) - logger_time == timedelta(seconds=float(offset))


def test_mtime_probe_over_ftp_measures_the_offset_while_the_logger_writes(tmp_path, tree, upload_server, capsys):
    path, remote = todays_file(tree.root)
    with FTPServer(tree.root) as ftp:
        config = probe_config(tmp_path, ftp.port, upload_server.url)
        writer = LoggerWriter(path)
        writer.start()
        assert crawl(config, day=datetime.now(TOKYO).date().isoformat()) == 0
        writer.join()
    [upload] = upload_server.accepted
    assert upload.remote_path == remote
    check_measured(upload.sync, writer.written_at)
    offset = Decimal(upload.sync["offset_s"])
    first = upload.corrected["rows"][0]
    assert first[1] == "2026-03-02T06:01:00"
    corrected = datetime.fromisoformat(first[2])
    assert corrected - datetime(2026, 3, 2, 6, 1, tzinfo=TOKYO) == timedelta(seconds=float(offset))
    stored = json.loads((spool_dir(config) / "clock.json").read_text())
    assert stored["A-11"] == upload.sync
    assert f"INFO logger=A-11 clock probe=mtime offset_s={upload.sync['offset_s']} uncertainty_s={upload.sync['uncertainty_s']} stale=false" \
        in capsys.readouterr().err


def test_mtime_probe_over_sftp_uses_the_file_stat(tmp_path, tree, upload_server, host_key):
    path, _ = todays_file(tree.root)
    with SFTPServer(tree.root, host_key) as sftp:
        config = probe_config(tmp_path, sftp.port, upload_server.url, protocol="sftp", extra=f'host_key = "{host_key.fingerprint}"')
        config.write_text(config.read_text().replace('mtime_zone = "UTC"\n', ""))  # SFTP times are UTC by default
        writer = LoggerWriter(path)
        writer.start()
        assert crawl(config, day=datetime.now(TOKYO).date().isoformat()) == 0
        writer.join()
    [upload] = upload_server.accepted
    check_measured(upload.sync, writer.written_at)


def test_probe_command_stores_the_pair_and_a_later_run_reuses_it_as_stale(tmp_path, tree, upload_server, capsys):
    path, _ = todays_file(tree.root)
    with FTPServer(tree.root) as ftp:
        config = probe_config(tmp_path, ftp.port, upload_server.url)
        writer = LoggerWriter(path)
        writer.start()
        assert main(["probe", "--config", str(config)]) == 0
        writer.join()
        measured = json.loads((spool_dir(config) / "clock.json").read_text())["A-11"]
        check_measured(measured, writer.written_at)
        assert upload_server.requests == 0  # probing uploads nothing
        config.write_text(config.read_text().replace("probe_timeout_s = 10", "probe_timeout_s = 0.3"))
        capsys.readouterr()
        assert crawl(config, day=datetime.now(TOKYO).date().isoformat()) == 0  # the logger stopped writing
    [upload] = upload_server.accepted
    assert upload.sync == {**measured, "stale": True}
    assert upload.corrected["offset_s"] == measured["offset_s"]
    err = capsys.readouterr().err
    assert "WARNING logger=A-11 clock probe=mtime" in err and "was not written within 0.3 s" in err and "stale" in err


def test_mtime_probe_falls_back_when_the_server_has_no_mdtm(tmp_path, tree, upload_server, capsys):
    todays_file(tree.root)
    with FTPServer(tree.root, mdtm=False) as ftp:
        config = probe_config(tmp_path, ftp.port, upload_server.url)
        assert crawl(config, day=datetime.now(TOKYO).date().isoformat()) == 0
    [upload] = upload_server.accepted
    sync = upload.sync
    assert sync["probe"] == "mtime" and sync["stale"] is True and sync["offset_s"] == "0.0" and sync["logger_time"] is None
    assert "clock probe unsupported: the FTP server does not support MDTM" in capsys.readouterr().err
    assert not (spool_dir(config) / "clock.json").exists()


def test_mtime_probe_without_todays_file_keeps_the_last_pair(tmp_path, tree, upload_server, capsys):
    with FTPServer(tree.root) as ftp:
        config = probe_config(tmp_path, ftp.port, upload_server.url)
        last = {"probe": "mtime", "logger_time": "2026-03-01T12:00:00.500", "reference_time": "2026-03-01T12:00:08+09:00",
                "offset_s": "7.5", "uncertainty_s": "0.6", "stale": False}  # fmt: skip
        spool = spool_dir(config)
        spool.mkdir()
        (spool / "clock.json").write_text(json.dumps({"A-11": last}))
        assert crawl(config) == 0  # 2026-03-02: nothing is being written today
    upload = upload_server.accepted[0]
    assert upload.sync == {**last, "stale": True}
    assert upload.corrected["rows"][0][2] == "2026-03-02T06:01:07.500+09:00"
    assert "no measurement file of today or yesterday to watch" in capsys.readouterr().err


@pytest.mark.parametrize("zone, expected", [("logger", "2026-03-02T12:00:00"), ("UTC", "2026-03-02T21:00:00"), ("Asia/Tokyo", "2026-03-02T12:00:00")])
def test_file_times_are_read_in_the_configured_zone(zone, expected):
    from crawler.probe import to_logger_wall

    assert to_logger_wall(datetime(2026, 3, 2, 12, 0), zone, TOKYO).isoformat() == expected


def test_a_logger_the_probe_cannot_reach_is_reported_once_and_skipped(tmp_path, upload_server, capsys):
    config = probe_config(tmp_path, free_port(), upload_server.url)
    assert crawl(config) == 2
    err = capsys.readouterr().err
    assert err.count("ERROR logger=A-11 unreachable: clock probe failed: cannot connect to ftp://127.0.0.1:") == 1
    assert "unreachable=1 (A-11)" in err
