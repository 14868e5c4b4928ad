"""The crawler as a deliverable: no Django, the upload example the server's tests reuse, systemd units, packaging,
and one end-to-end run of ``python -m crawler`` in a subprocess from the repository root."""

from __future__ import annotations

import ast
import configparser
import hashlib
import json
import os
import subprocess
import sys
import tomllib
from datetime import date, datetime
from zoneinfo import ZoneInfo

from crawler.config import load
from crawler.runner import Runner
from tests.crawler.support import RESTART, ROOT, FTPServer, UploadServer, logger_toml, write_config

CRAWLER = ROOT / "crawler"
EXAMPLE = ROOT / "tests" / "crawler" / "fixtures" / "upload-example.json"
SERVER_SIDE = ("django", "rest_framework", "celery", "lots", "power", "plants", "moira", "audit")


def test_no_crawler_module_imports_django_or_the_server_apps():
    for path in CRAWLER.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert name.split(".")[0] not in SERVER_SIDE, f"{path.name} imports {name}"


def test_running_the_crawler_loads_no_server_code_and_importing_the_package_loads_nothing():
    code = (
        "import sys, crawler, crawler.pw3360\n"
        "light = sorted(m for m in ('requests', 'paramiko', 'urllib3') if m in sys.modules)\n"
        "import crawler.__main__, crawler.runner, crawler.sources, crawler.probe, crawler.layout, crawler.client, crawler.spool\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {SERVER_SIDE!r})\n"
        "print(light, bad)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[] []"


def _example_upload(tmp_path):
    """The crawler's real upload of the restart fixture, with a fixed clock offset and a fixed reference time."""
    root = tmp_path / "logger"
    (root / "PW3360" / "26030200").mkdir(parents=True)
    (root / "PW3360" / "26030200" / "03020000.CSV").write_bytes(RESTART.read_bytes())
    reference = datetime(2026, 3, 2, 18, 15, tzinfo=ZoneInfo("Asia/Tokyo")).timestamp()
    with FTPServer(root) as ftp, UploadServer() as server:
        logger = logger_toml("A-11", ftp.port, clock="fixed", extra="clock_offset_s = -3.0")
        cfg = load(write_config(tmp_path / "crawler.toml", server.url, logger, site_extra="catch_up_days = 0"))
        assert Runner(cfg, now=lambda: reference).run(date(2026, 3, 2)).exit_code == 0
        [upload] = server.accepted
    return upload


def _dump_example(example: dict) -> str:
    """Readable JSON: one row per line."""
    rows = example["corrected"]["rows"]
    text = json.dumps({**example, "corrected": {**example["corrected"], "rows": "ROWS"}}, indent=1, ensure_ascii=False)
    return text.replace('"ROWS"', "[\n" + ",\n".join("   " + json.dumps(r) for r in rows) + "\n  ]") + "\n"


def test_upload_example_fixture_is_what_the_crawler_sends(tmp_path):
    upload = _example_upload(tmp_path)
    actual = {
        "note": "One upload as the crawler sends it: multipart/form-data fields of POST /api/v1/power/uploads/; 'sync' and "
                "'corrected' travel as JSON strings of these objects, 'file' is the bytes of the file named here (filename "
                "03020000.CSV). Regenerate with MOIRA_WRITE_UPLOAD_EXAMPLE=1 pytest tests/crawler/test_crawler_package.py.",
        "logger": upload.logger,
        "remote_path": upload.remote_path,
        "sha256": upload.sha256,
        "file": str(RESTART.relative_to(ROOT)),
        "sync": upload.sync,
        "corrected": upload.corrected,
    }
    if os.environ.get("MOIRA_WRITE_UPLOAD_EXAMPLE"):  # regenerate after a deliberate change of the upload format
        EXAMPLE.parent.mkdir(exist_ok=True)
        EXAMPLE.write_text(_dump_example(actual))
    expected = json.loads(EXAMPLE.read_text())
    assert actual == expected
    assert hashlib.sha256((ROOT / expected["file"]).read_bytes()).hexdigest() == expected["sha256"]
    assert expected["sync"] == {"probe": "fixed", "logger_time": "2026-03-02T18:15:03", "reference_time": "2026-03-02T18:15:00+09:00",
                                "offset_s": "-3.0", "uncertainty_s": None, "stale": False}  # fmt: skip
    assert expected["corrected"]["rows"][0] == [11, "2026-03-02T06:01:00", "2026-03-02T06:00:57+09:00", "55.000"]


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(CRAWLER / "systemd" / name)
    return parser


def test_systemd_service_is_a_hardened_oneshot_run():
    unit = _unit("moira-crawler.service")
    service = unit["Service"]
    assert service["Type"] == "oneshot"
    assert service["User"] == "moira-crawler"
    assert service["WorkingDirectory"] == "/opt/moira-crawler"
    assert service["ExecStart"].endswith("python -m crawler run --config /etc/moira-crawler/crawler.toml")
    assert service["ProtectSystem"] == "strict"
    assert service["ReadWritePaths"] == "/var/lib/moira-crawler"
    assert service["NoNewPrivileges"] == "true" and service["ProtectHome"] == "true"
    assert "network-online.target" in unit["Unit"]["After"]


def test_systemd_timer_runs_after_the_loggers_write_and_catches_up_after_boot():
    timer = _unit("moira-crawler.timer")["Timer"]
    assert timer["OnCalendar"] == "*-*-* 18:15:00 Asia/Tokyo"
    assert timer["Persistent"] == "true"
    assert timer["Unit"] == "moira-crawler.service"
    assert _unit("moira-crawler-probe.service")["Service"]["ExecStart"].endswith("-m crawler probe --config /etc/moira-crawler/crawler.toml")


def test_pyproject_installs_the_crawler_package_and_the_moira_crawler_command():
    project = tomllib.loads((CRAWLER / "pyproject.toml").read_text())
    assert project["project"]["name"] == "moira-crawler"
    assert project["project"]["scripts"] == {"moira-crawler": "crawler.__main__:main"}
    assert project["tool"]["setuptools"]["package-dir"] == {"crawler": "."}
    assert project["tool"]["setuptools"]["packages"] == ["crawler"]
    deps = {d.split(">")[0].split("=")[0] for d in project["project"]["dependencies"]}
    assert deps == {"paramiko", "requests"}


def test_the_example_configuration_is_valid():
    cfg = load(CRAWLER / "crawler.example.toml")
    assert [lg.clock for lg in cfg.loggers] == ["none", "fixed", "mtime"]


def test_python_m_crawler_run_end_to_end_from_the_repository_root(tmp_path, tree, ftp_server, upload_server):
    config = write_config(tmp_path / "crawler.toml", upload_server.url, logger_toml("A-11", ftp_server.port))
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    argv = [sys.executable, "-m", "crawler", "run", "--config", str(config), "--date", "2026-03-02"]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert sorted(upload_server.paths()) == sorted(tree.old_day_files + tree.day_files)
    assert done.stdout == ""  # everything goes to stderr, one event per line
    assert done.stderr.splitlines()[-1].endswith("delivered=4 duplicate=0 rejected=0 pending=0 exit=0")
