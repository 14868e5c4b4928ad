"""Configuration: defaults, and errors that exit 1 naming the file, the section and the key."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from crawler.__main__ import main
from crawler.config import ConfigError, load
from tests.crawler.support import ROOT, TOKEN

BASE = f"""
[server]
url = "http://127.0.0.1:8000/"
token = "{TOKEN}"
spool_dir = "spool"

[site]
timezone = "Asia/Tokyo"

[[loggers]]
code = "A-11"
host = "192.168.1.111"
port = 21
protocol = "ftp"
username = "pw3360"
password = "secret"
root = "/"
clock = "none"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "crawler.toml"
    path.write_text(text)
    return path


def run_and_read_error(path: Path, capsys, *extra: str) -> str:
    assert main(["run", "--config", str(path), *extra]) == 1
    return capsys.readouterr().err


def test_contract_example_loads_with_documented_defaults(tmp_path):
    cfg = load(write(tmp_path, BASE))
    assert cfg.server.url == "http://127.0.0.1:8000"
    assert cfg.server.spool_dir == tmp_path / "spool"  # relative to the configuration file
    assert cfg.server.timeout_s == 30 and cfg.server.retries == 2
    assert cfg.site.catch_up_days == 7 and str(cfg.site.tz) == "Asia/Tokyo"
    [lg] = cfg.loggers
    assert (lg.code, lg.protocol, lg.port, lg.passive, lg.clock, lg.root) == ("A-11", "ftp", 21, True, "none", "/")
    assert lg.mtime_zone == "logger" and lg.mtime_resolution_s == 2 and lg.mtime_rounding == "unknown" and lg.host_key_policy == "reject"


def test_sftp_and_fixed_clock_options(tmp_path):
    text = BASE.replace('protocol = "ftp"', 'protocol = "sftp"').replace("port = 21\n", "").replace('clock = "none"', 'clock = "fixed"\nclock_offset_s = -3.25')
    cfg = load(write(tmp_path, text + 'host_key = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"\n'))
    [lg] = cfg.loggers
    assert lg.port == 22 and lg.clock_offset_s == Decimal("-3.25") and lg.mtime_zone == "UTC" and lg.mtime_resolution_s == 1
    assert lg.mtime_rounding == "down"


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda t: t.replace('url = "http://127.0.0.1:8000/"\n', ""), "[server] url: missing"),
        (lambda t: t.replace('url = "http://127.0.0.1:8000/"', 'url = "127.0.0.1:8000"'), "[server] url: must be an http:// or https:// URL"),
        (lambda t: t.replace(f'token = "{TOKEN}"', 'token = "a b"'), "[server] token: must not contain spaces"),
        (lambda t: t.replace('spool_dir = "spool"\n', ""), "[server] spool_dir: missing"),
        (lambda t: t.replace('spool_dir = "spool"', 'spool_dir = "spool"\ntimeout_s = -1'), "[server] timeout_s: must be a number"),
        (lambda t: t.replace('"Asia/Tokyo"', '"Mars/Olympus"'), "[site] timezone: unknown time zone 'Mars/Olympus'"),
        (lambda t: t.replace('timezone = "Asia/Tokyo"', 'timezone = "Asia/Tokyo"\ncatch_up_days = "7"'), "[site] catch_up_days: must be an integer"),
        (lambda t: t.replace("port = 21", "port = 70000"), '[[loggers]] #1 (code "A-11") port: must be an integer from 1 to 65535'),
        (lambda t: t.replace('protocol = "ftp"', 'protocol = "http"'), '[[loggers]] #1 (code "A-11") protocol: must be one of'),
        (lambda t: t.replace('clock = "none"', 'clock = "ntp"'), '[[loggers]] #1 (code "A-11") clock: must be one of'),
        (lambda t: t.replace('clock = "none"', 'clock = "fixed"'), '[[loggers]] #1 (code "A-11") clock_offset_s: missing'),
        (lambda t: t.replace('clock = "none"', 'clock = "none"\nclock_offset_s = 3'), 'clock_offset_s: only used with clock = "fixed"'),
        (lambda t: t.replace('clock = "none"', 'clock = "fixed"\nclock_offset_s = "soon"'), "clock_offset_s: must be a number of seconds"),
        (lambda t: t.replace('clock = "none"', 'clock = "none"\nclock_ofset_s = 3'), '[[loggers]] #1 (code "A-11") clock_ofset_s: unknown key'),
        (lambda t: t.replace('host = "192.168.1.111"\n', ""), '[[loggers]] #1 (code "A-11") host: missing'),
        (lambda t: t.replace('code = "A-11"\n', ""), "[[loggers]] #1 code: missing"),
        (lambda t: t + t[t.index("[[loggers]]"):], '[[loggers]] #2 (code "A-11") code: duplicate of [[loggers]] #1'),
        (lambda t: t.replace('clock = "none"', 'clock = "none"\nhost_key = "SHA256:x"'), 'host_key: only used with protocol = "sftp"'),
        (lambda t: t.replace('protocol = "ftp"', 'protocol = "sftp"').replace('password = "secret"\n', ""), "password: missing (an SFTP logger needs"),
        (lambda t: t.replace('protocol = "ftp"', 'protocol = "sftp"') + 'host_key = "nonsense"\n', "host_key: must be 'SHA256:"),
        (lambda t: t.replace('protocol = "ftp"', 'protocol = "sftp"') + 'key_file = "missing.key"\n', "key_file: no such file"),
        (lambda t: t.replace("[[loggers]]", "[[logger]]"), "[logger]: unknown section"),
        (lambda t: t[: t.index("[[loggers]]")], "[[loggers]]: missing"),
        (lambda t: t.replace('"http://127.0.0.1:8000/"', '"http://127.0.0.1:8000/'), "invalid TOML"),
    ],
)
def test_configuration_errors_exit_1_naming_the_file_section_and_key(tmp_path, capsys, change, message):
    path = write(tmp_path, change(BASE))
    with pytest.raises(ConfigError) as raised:
        load(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)
    err = run_and_read_error(path, capsys)
    assert f"ERROR configuration error: {path}: " in err and message in err


def test_a_missing_configuration_file_exits_1(tmp_path, capsys):
    err = run_and_read_error(tmp_path / "nope.toml", capsys)
    assert f"{tmp_path / 'nope.toml'}: cannot read the configuration file" in err


def test_a_bad_date_exits_1_not_2(tmp_path, capsys):
    err = run_and_read_error(write(tmp_path, BASE), capsys, "--date", "2026-13-01")
    assert "not a date (YYYY-MM-DD): '2026-13-01'" in err


def test_check_config_summarises_a_valid_file(tmp_path, capsys):
    assert main(["check-config", "--config", str(write(tmp_path, BASE))]) == 0
    err = capsys.readouterr().err
    assert "INFO logger=A-11 ftp://pw3360@192.168.1.111:21/ clock=none" in err and "configuration OK" in err


def test_python_m_crawler_is_the_entry_point(tmp_path):
    path = write(tmp_path, BASE.replace("port = 21", "port = 0"))
    done = subprocess.run([sys.executable, "-m", "crawler", "run", "--config", str(path)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert '[[loggers]] #1 (code "A-11") port: must be an integer from 1 to 65535' in done.stderr
