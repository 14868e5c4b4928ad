"""HTTP client for the Moira server: the upload endpoint and the clock ping, with explicit timeouts.

Outcomes of an upload (the upload contract in crawler/README.md):

* ``accepted`` (201) and ``duplicate`` (200): the server has the file; delivered.
* ``rejected`` (400, also 413/422): permanent; the file is moved to ``spool/rejected/`` and never retried as is.
* ``auth`` (401/403): the token is wrong or revoked; uploading stops, the spool is kept.
* ``transient`` (5xx, 408, 429, other statuses, timeouts, refused or dropped connections): retried next run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import requests

__all__ = ["Client", "PingResult", "UploadResult"]

UPLOAD_PATH = "/api/v1/power/uploads/"
PING_PATH = "/api/v1/power/ping/"


@dataclass(frozen=True)
class UploadResult:
    outcome: str  # 'accepted', 'duplicate', 'rejected', 'auth', 'transient'
    http_status: int | None
    body: object  # parsed JSON, or the text (cut), or None
    message: str
    network: bool = False  # the request did not get an HTTP answer (refused, timed out, dropped)


@dataclass(frozen=True)
class PingResult:
    outcome: str  # 'ok', 'auth', 'missing' (no ping endpoint), 'error' (HTTP error), 'network'
    server_time: datetime | None = None
    plant: str | None = None
    message: str = ""


def _body(response: requests.Response):
    try:
        return response.json()
    except ValueError:
        return response.text[:500]


def _short(body) -> str:
    text = json.dumps(body, ensure_ascii=False) if not isinstance(body, str) else body
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."


class Client:
    def __init__(self, url: str, token: str, *, timeout_s: float, session: requests.Session | None = None):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = (timeout_s, timeout_s)  # (connect, read)
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = "moira-crawler"

    def close(self) -> None:
        self.session.close()

    def _headers(self) -> dict:
        return {"Authorization": f"Device {self.token}", "Accept": "application/json"}

    def upload(self, *, logger: str, remote_path: str, sha256: str, filename: str, data: bytes, sync: dict, corrected: dict) -> UploadResult:
        fields = {
            "logger": logger,
            "remote_path": remote_path,
            "sha256": sha256,
            "sync": json.dumps(sync, ensure_ascii=False, separators=(",", ":")),
            "corrected": json.dumps(corrected, ensure_ascii=False, separators=(",", ":")),
        }
        try:
            response = self.session.post(
                self.url + UPLOAD_PATH, headers=self._headers(), data=fields, files={"file": (filename, data, "text/csv")},
                timeout=self.timeout, allow_redirects=False,
            )  # fmt: skip
        except requests.Timeout:
            return UploadResult("transient", None, None, f"no answer within {self.timeout[1]:g} s", network=True)
        except requests.ConnectionError as exc:
            return UploadResult("transient", None, None, f"connection failed: {_connection_reason(exc)}", network=True)
        except requests.RequestException as exc:
            return UploadResult("transient", None, None, f"request failed: {exc}", network=True)
        status = response.status_code
        body = _body(response)
        if status in (200, 201):
            server_status = body.get("status") if isinstance(body, dict) else None
            outcome = "duplicate" if server_status == "duplicate" else "accepted"
            return UploadResult(outcome, status, body, f"HTTP {status} {server_status or ''}".strip())
        if status in (400, 413, 422):
            return UploadResult("rejected", status, body, f"HTTP {status}: {_short(body)}")
        if status in (401, 403):
            return UploadResult("auth", status, body, f"HTTP {status}: {_short(body)}")
        if 300 <= status < 400:
            return UploadResult("transient", status, None, f"HTTP {status} redirect to {response.headers.get('Location')!r}: "
                                                           "set [server] url to the final address (https?)")  # fmt: skip
        return UploadResult("transient", status, body, f"HTTP {status}: {_short(body)}")

    def ping(self) -> PingResult:
        try:
            response = self.session.get(self.url + PING_PATH, headers=self._headers(), timeout=self.timeout, allow_redirects=False)
        except requests.Timeout:
            return PingResult("network", message=f"no answer within {self.timeout[1]:g} s")
        except requests.RequestException as exc:
            return PingResult("network", message=f"connection failed: {_connection_reason(exc)}")
        if response.status_code in (401, 403):
            return PingResult("auth", message=f"HTTP {response.status_code}: {_short(_body(response))}")
        if response.status_code in (404, 405):
            return PingResult("missing", message=f"HTTP {response.status_code}")
        if response.status_code != 200:
            return PingResult("error", message=f"HTTP {response.status_code}: {_short(_body(response))}")
        body = _body(response)
        try:
            server_time = datetime.fromisoformat(body["server_time"])
        except (TypeError, KeyError, ValueError):
            return PingResult("error", message=f"unexpected answer {_short(body)}")
        if server_time.tzinfo is None:
            return PingResult("error", message=f"server_time without an offset: {body['server_time']!r}")
        return PingResult("ok", server_time=server_time, plant=body.get("plant"))


def _connection_reason(exc: BaseException) -> str:
    text = str(exc)
    for marker in ("Connection refused", "RemoteDisconnected", "Connection reset", "Connection aborted", "Name or service not known",
                   "Temporary failure in name resolution", "Network is unreachable", "No route to host", "Broken pipe"):  # fmt: skip
        if marker in text:
            return marker
    return text[:200]
