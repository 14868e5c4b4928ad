"""Real servers for the crawler tests, each on 127.0.0.1 in a background thread:

* :class:`FTPServer`: pyftpdlib over a folder (optionally without MDTM or MLSD, like a minimal embedded server);
* :class:`SFTPServer`: paramiko ``ServerInterface`` + ``SFTPServer`` over a folder, password auth, RSA host key;
* :class:`UploadServer`: a stand-in for Moira's upload endpoint implementing the upload contract (dedupe on
  (logger, sha256), 400 on bad fields, 401 on a bad token) that can be told to answer 503, 401, 400 or to drop
  the connection, and records everything it received.

Plus :func:`build_pw3360_tree`, a PW3360 SD-card layout built from the fixture CSVs.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import json
import logging
import os
import socket
import threading
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from crawler.__main__ import main

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "pw3360"
UTF8 = FIXTURES / "pw3360-3p3w-utf8.CSV"
SJIS = FIXTURES / "pw3360-1p2w-date-time-sjis.CSV"
RESTART = FIXTURES / "pw3360-3p4w-restart.CSV"
TOKEN = "test-token-0123456789"
DAY = "2026-03-02"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------- PW3360 tree


def split_fixture(path: Path, first_rows: int) -> tuple[bytes, bytes]:
    """Split a fixture like the logger splits a big file: both parts carry the settings block and the header."""
    lines = path.read_bytes().split(b"\r\n")
    header_at = next(i for i, line in enumerate(lines) if line.startswith(b'"Date"'))
    head = lines[: header_at + 1]
    rows = [line for line in lines[header_at + 1 :] if line]
    part0 = b"\r\n".join(head + rows[:first_rows]) + b"\r\n"
    part1 = b"\r\n".join(head + rows[first_rows:]) + b"\r\n"
    return part0, part1


@dataclass
class Tree:
    root: Path
    day_files: list[str]  # remote paths of the measurement files of the main day (2026-03-02)
    old_day_files: list[str]  # of the day before (2026-03-01)
    ignored: list[str] = field(default_factory=list)

    def path(self, remote: str) -> Path:
        return self.root / remote.lstrip("/")


def build_pw3360_tree(root: Path) -> Tree:
    """2026-03-02: recording 00 split in two parts + .SET + a HARMONIC folder; recording 01 (lowercase .csv) + .SET.
    2026-03-01: one file (for catch-up). 2026-02-01: outside a 7-day catch-up window. Plus stray files."""
    part0, part1 = split_fixture(UTF8, 360)
    files = {
        "PW3360/26030200/03020000.CSV": part0,
        "PW3360/26030200/03020001.CSV": part1,
        "PW3360/26030200/26030200.SET": b"SETTINGS\r\n",
        "PW3360/26030200/HARMONIC/03020000.HRM": b"\x00\x01",
        "PW3360/26030201/03020000.csv": SJIS.read_bytes(),
        "PW3360/26030201/26030201.SET": b"SETTINGS\r\n",
        "PW3360/26030100/03010000.CSV": RESTART.read_bytes(),
        "PW3360/26030100/26030100.SET": b"SETTINGS\r\n",
        "PW3360/26020100/02010000.CSV": RESTART.read_bytes(),
        "PW3360/NOTES.TXT": b"not a recording\r\n",
        "OTHER/03020000.CSV": part0,
    }
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return Tree(
        root=root,
        day_files=["/PW3360/26030200/03020000.CSV", "/PW3360/26030200/03020001.CSV", "/PW3360/26030201/03020000.csv"],
        old_day_files=["/PW3360/26030100/03010000.CSV"],
        ignored=["/PW3360/26030200/26030200.SET", "/PW3360/26020100/02010000.CSV", "/OTHER/03020000.CSV"],
    )


# --------------------------------------------------------------------------------------------- FTP


class FTPServer:
    """pyftpdlib in a thread. ``mdtm=False`` / ``mlsd=False`` remove those commands, as a minimal server would."""

    def __init__(self, root: Path, *, user="logger", password="secret", mdtm=True, mlsd=True, gmt_times=True):
        with warnings.catch_warnings():  # pyftpdlib still imports asyncore/asynchat on Python 3.11
            warnings.simplefilter("ignore", DeprecationWarning)
            from pyftpdlib.authorizers import DummyAuthorizer
            from pyftpdlib.handlers import FTPHandler
            from pyftpdlib.servers import FTPServer as _Server

        ftp_log = logging.getLogger("pyftpdlib")  # a handler of our own stops pyftpdlib from logging to stderr
        ftp_log.setLevel(logging.WARNING)
        if not ftp_log.handlers:
            ftp_log.addHandler(logging.NullHandler())
        authorizer = DummyAuthorizer()
        authorizer.add_user(user, password, str(root), perm="elr")
        removed = {cmd for cmd, on in (("MDTM", mdtm), ("MLSD", mlsd), ("MLST", mlsd)) if not on}
        handler = type("Handler", (FTPHandler,), {
            "authorizer": authorizer,
            "use_gmt_times": gmt_times,
            "proto_cmds": {k: v for k, v in FTPHandler.proto_cmds.items() if k not in removed},
            "timeout": 30,
            "auth_failed_timeout": 0.05,
        })  # fmt: skip
        self.server = _Server(("127.0.0.1", 0), handler)
        self.port = self.server.socket.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="ftp")

    def _serve(self):
        while not self._stop.is_set():
            self.server.serve_forever(timeout=0.02, blocking=False, handle_exit=False)
        self.server.close_all()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)


# --------------------------------------------------------------------------------------------- SFTP


class SFTPServer:
    """paramiko SSH server with an SFTP subsystem over ``root``; password authentication only."""

    def __init__(self, root: Path, host_key, *, user="logger", password="secret"):
        self.root, self.host_key, self.user, self.password = Path(root), host_key, user, password
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True, name="sftp")
        self._transports = []

    def _accept(self):
        import paramiko

        server_iface, sftp_iface = _sftp_interfaces(self.root, self.user, self.password)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            transport = paramiko.Transport(conn)
            transport.add_server_key(self.host_key)
            transport.set_subsystem_handler("sftp", paramiko.SFTPServer, sftp_iface)
            try:
                transport.start_server(server=server_iface())
            except (paramiko.SSHException, EOFError, OSError):
                continue
            self._transports.append(transport)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        for t in self._transports:
            t.close()
        self.sock.close()


def _sftp_interfaces(root: Path, user: str, password: str):
    import paramiko

    class Server(paramiko.ServerInterface):
        def check_auth_password(self, username, pw):
            return paramiko.AUTH_SUCCESSFUL if (username, pw) == (user, password) else paramiko.AUTH_FAILED

        def get_allowed_auths(self, username):
            return "password"

        def check_channel_request(self, kind, chanid):
            return paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    class Handle(paramiko.SFTPHandle):
        pass

    class SFTP(paramiko.SFTPServerInterface):
        def _real(self, path):
            return root / os.path.normpath("/" + path).lstrip("/")

        def canonicalize(self, path):
            return os.path.normpath("/" + path)

        def list_folder(self, path):
            real = self._real(path)
            try:
                return [paramiko.SFTPAttributes.from_stat(os.stat(real / name), name) for name in os.listdir(real)]
            except OSError as exc:
                return paramiko.SFTPServer.convert_errno(exc.errno)

        def stat(self, path):
            try:
                return paramiko.SFTPAttributes.from_stat(os.stat(self._real(path)))
            except OSError as exc:
                return paramiko.SFTPServer.convert_errno(exc.errno)

        lstat = stat

        def open(self, path, flags, attr):
            try:
                fh = open(self._real(path), "rb")  # noqa: SIM115 - paramiko closes it
            except OSError as exc:
                return paramiko.SFTPServer.convert_errno(exc.errno)
            handle = Handle(flags)
            handle.readfile = fh
            handle.filename = str(self._real(path))
            return handle

    return Server, SFTP


# --------------------------------------------------------------------------------------------- upload server


@dataclass
class Received:
    logger: str
    remote_path: str
    sha256: str
    filename: str
    data: bytes
    sync: dict
    corrected: dict


class UploadServer:
    """Implements ``POST /api/v1/power/uploads/`` and ``GET /api/v1/power/ping/`` of the upload contract.

    ``mode``: 'ok'; '503'; '401'; 'drop' (read part of the request, close without answering); 'drop_after_store'
    (store the upload, then close without answering). ``mode_count``: how many upload requests get the mode before
    the server answers normally again (None: all). ``reject_names``: file names answered with a 400.
    """

    def __init__(self, token: str = TOKEN):
        self.token = token
        self.mode = "ok"
        self.mode_count: int | None = None
        self.reject_names: set[str] = set()
        self.skew_s = 0.0
        self.stored: dict[tuple[str, str], Received] = {}
        self.accepted: list[Received] = []  # 201s, in order
        self.requests = 0  # upload requests seen (all outcomes)
        self.pings = 0
        self.lock = threading.Lock()
        state = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _json(self, status: int, body: dict):
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self):
                if self.path != "/api/v1/power/ping/":
                    return self._json(404, {"detail": "not found"})
                if self.headers.get("Authorization") != f"Device {state.token}":
                    return self._json(401, {"detail": "Unknown or revoked crawler token."})
                state.pings += 1
                now = datetime.fromtimestamp(time.time() + state.skew_s).astimezone()
                return self._json(200, {"plant": "a-plant", "server_time": now.isoformat()})

            def do_POST(self):
                if self.path != "/api/v1/power/uploads/":
                    return self._json(404, {"detail": "not found"})
                length = int(self.headers.get("Content-Length") or 0)
                with state.lock:
                    state.requests += 1
                    mode = state.mode
                    if state.mode_count is not None:
                        if state.mode_count <= 0:
                            mode = "ok"
                        state.mode_count -= 1
                if mode == "drop":
                    self.rfile.read(min(length, 200))
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                body = self.rfile.read(length)
                if mode == "503":
                    return self._json(503, {"detail": "maintenance"})
                if mode == "401" or self.headers.get("Authorization") != f"Device {state.token}":
                    return self._json(401, {"detail": "Unknown or revoked crawler token."})
                fields, errors = parse_upload(self.headers.get("Content-Type", ""), body)
                if not errors and fields["filename"] in state.reject_names:
                    errors = {"file": ["The file is not a PW3360 measurement file."]}
                if errors:
                    return self._json(400, errors)
                key = (fields["logger"], fields["sha256"])
                with state.lock:
                    existing = state.stored.get(key)
                    if existing is None:
                        rec = Received(**fields)
                        state.stored[key] = rec
                        state.accepted.append(rec)
                        upload_id = len(state.stored)
                if mode == "drop_after_store":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if existing is not None:
                    return self._json(200, {"id": list(state.stored).index(key) + 1, "status": "duplicate"})
                return self._json(201, {"id": upload_id, "status": "accepted", "readings": len(fields["corrected"]["rows"]), "rejected": []})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name="upload")

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def paths(self) -> list[str]:
        return [r.remote_path for r in self.accepted]


def _is_decimal(value) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return Decimal(value).is_finite() and "e" not in value.lower()
    except InvalidOperation:
        return False


def _aware(value) -> bool:
    try:
        return isinstance(value, str) and datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def _naive(value) -> bool:
    try:
        return isinstance(value, str) and datetime.fromisoformat(value).tzinfo is None
    except ValueError:
        return False


def parse_upload(content_type: str, body: bytes) -> tuple[dict, dict]:
    """Multipart form -> (fields, errors) with the contract's checks."""
    if not content_type.startswith("multipart/form-data"):
        return {}, {"file": ["Send multipart/form-data."]}
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    parts = {}
    filename = ""
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        parts[name] = part.get_payload(decode=True)
        if name == "file":
            filename = part.get_filename() or ""
    errors: dict[str, list[str]] = {}
    for key in ("logger", "remote_path", "sha256", "file", "sync", "corrected"):
        if key not in parts:
            errors[key] = ["This field is required."]
    if errors:
        return {}, errors
    data = parts["file"]
    sha = parts["sha256"].decode()
    if hashlib.sha256(data).hexdigest() != sha:
        errors["sha256"] = ["Does not match the file."]
    try:
        sync = json.loads(parts["sync"])
        corrected = json.loads(parts["corrected"])
    except ValueError:
        return {}, {"sync": ["Invalid JSON."]}
    if sync.get("probe") not in ("none", "fixed", "mtime") or not _aware(sync.get("reference_time")) \
            or not _is_decimal(sync.get("offset_s")) or not isinstance(sync.get("stale"), bool) \
            or not (sync.get("logger_time") is None or _naive(sync["logger_time"])) \
            or not (sync.get("uncertainty_s") is None or _is_decimal(sync["uncertainty_s"])):  # fmt: skip
        errors["sync"] = [f"Invalid sync pair: {sync!r}"]
    rows = corrected.get("rows")
    if not isinstance(corrected.get("timezone"), str) or not _is_decimal(corrected.get("offset_s")) or not isinstance(rows, list) or not all(
        isinstance(r, list) and len(r) == 4 and isinstance(r[0], int) and _naive(r[1]) and _aware(r[2]) and (r[3] is None or _is_decimal(r[3]))
        for r in rows
    ):
        errors["corrected"] = ["Invalid corrected rows."]
    fields = {"logger": parts["logger"].decode(), "remote_path": parts["remote_path"].decode(), "sha256": sha, "filename": filename,
              "data": data, "sync": sync, "corrected": corrected}  # fmt: skip
    return fields, errors


# --------------------------------------------------------------------------------------------- configuration


def logger_toml(code: str, port: int, *, protocol="ftp", clock="none", extra: str = "") -> str:
    return f"""
[[loggers]]
code = "{code}"
host = "127.0.0.1"
port = {port}
protocol = "{protocol}"
username = "logger"
password = "secret"
root = "/"
clock = "{clock}"
timeout_s = 5
{extra}
"""


def write_config(path: Path, server_url: str, loggers: str, *, spool: Path | None = None, site_extra: str = "", server_extra: str = "") -> Path:
    spool = spool or path.parent / "spool"
    path.write_text(f"""
[server]
url = "{server_url}"
token = "{TOKEN}"
spool_dir = "{spool}"
timeout_s = 5
retries = 1
retry_backoff_s = 0.01
{server_extra}

[site]
timezone = "Asia/Tokyo"
{site_extra}
{loggers}
""")
    return path


# --------------------------------------------------------------------------------------------- running


def crawl(config: Path, *args: str, day: str | None = DAY) -> int:
    argv = ["run", "--config", str(config)]
    if day is not None:
        argv += ["--date", day]
    return main(argv + list(args))


def spool_dir(config: Path) -> Path:
    return config.parent / "spool"


def pending(config: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((spool_dir(config) / "pending").glob("*.json"))]


def rejected(config: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((spool_dir(config) / "rejected").glob("*.json"))]
