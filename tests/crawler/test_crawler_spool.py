"""The spool on its own: atomic entries, order, crash leftovers, the lock, a damaged state file."""

from __future__ import annotations

import json

import pytest

from crawler.spool import Spool, SpoolBusy, atomic_write, logger_slug
from tests.crawler.support import crawl


def meta(logger: str, sha: str, path: str = "/PW3360/26030200/03020000.CSV") -> dict:
    return {"logger": logger, "sha256": sha, "remote_path": path, "sync": {}, "corrected": {"rows": []}}


def test_entries_are_content_addressed_and_delivered_oldest_first(tmp_path):
    with Spool(tmp_path / "spool") as spool:
        spool.add(meta("A-11", "b" * 64), b"second")
        spool.add(meta("A-11", "a" * 64), b"third")
        spool.add(meta("A 12/x", "c" * 64), b"fourth")
        names = sorted(p.name for p in spool.pending_dir.iterdir())
        assert names[0] == f"{'a' * 64}.A-11.csv"
        assert any(n.startswith("c" * 64 + ".A_12_x-") for n in names)  # odd codes stay distinct and file-safe
        assert [e.read() for e in spool.pending()] == [b"second", b"third", b"fourth"]
        assert spool.is_pending("A-11", "a" * 64) and not spool.is_pending("A-12", "a" * 64)


def test_a_crash_mid_write_leaves_no_half_entry(tmp_path):
    root = tmp_path / "spool"
    with Spool(root) as spool:
        spool.add(meta("A-11", "a" * 64), b"complete")
        (spool.pending_dir / f"{'b' * 64}.A-11.csv").write_bytes(b"blob written, sidecar not yet")
        (spool.tmp_dir / ".delivered.json.123.456.tmp").write_bytes(b"half")
    with Spool(root) as spool:
        assert [e.sha256 for e in spool.pending()] == ["a" * 64]
        assert list(spool.tmp_dir.iterdir()) == []


def test_atomic_write_replaces_the_whole_file(tmp_path):
    target = tmp_path / "state.json"
    atomic_write(target, b"old")
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_only_one_run_at_a_time(tmp_path, ftp_config, capsys):
    with Spool(ftp_config.parent / "spool"), pytest.raises(SpoolBusy):
        Spool(ftp_config.parent / "spool").open()
    with Spool(ftp_config.parent / "spool"):
        assert crawl(ftp_config) == 6
    assert "another crawler run holds" in capsys.readouterr().err


def test_a_damaged_state_file_is_set_aside_and_nothing_is_lost(tmp_path, ftp_config, upload_server, capsys):
    assert crawl(ftp_config) == 0
    state = ftp_config.parent / "spool" / "delivered.json"
    state.write_text("{not json")
    assert crawl(ftp_config) == 0  # everything is downloaded again and recognised by the server as duplicates
    assert len(upload_server.stored) == 4
    assert "unreadable" in capsys.readouterr().err
    assert json.loads(state.read_text())["files"]["A-11"]
    assert list(state.parent.glob("delivered.json.damaged-*"))


def test_logger_slugs_keep_plain_codes():
    assert logger_slug("A-11") == "A-11"
    assert logger_slug("A/11") != logger_slug("A_11")


def test_records_older_than_the_catch_up_window_and_a_month_are_forgotten(ftp_config, upload_server):
    assert crawl(ftp_config) == 0
    state = ftp_config.parent / "spool" / "delivered.json"
    assert len(json.loads(state.read_text())["files"]["A-11"]) == 4
    assert crawl(ftp_config, day="2026-04-08") == 0  # 2026-03-02 is 37 days before: within 7 + 31 days, kept
    assert len(json.loads(state.read_text())["files"]["A-11"]) == 4
    assert crawl(ftp_config, day="2026-04-10") == 0
    saved = json.loads(state.read_text())
    assert saved["files"]["A-11"] == {} and saved["digests"]["A-11"] == {}
    assert len(upload_server.accepted) == 4
