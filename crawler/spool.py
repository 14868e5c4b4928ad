"""The spool: every downloaded file waits here until the server has it.

Layout of ``spool_dir``::

    pending/<sha256>.<logger>.csv    the raw bytes, exactly as downloaded
    pending/<sha256>.<logger>.json   the sidecar: logger, remote_path, sha256, size, sync pair, corrected rows, ...
    rejected/                        the same pair of files, for uploads the server refused with a 400 (+ the reason)
    delivered.json                   the state: every remote file seen, its digest/size/mtime and status
    clock.json                       the last measured clock pair of each logger (for the "mtime" probe)
    tmp/                             files being written (write, fsync, rename: a crash never leaves half a file)
    .lock                            held by the running crawler

An entry is complete once its sidecar exists (the CSV is written first). Entries are delivered oldest first
(``spooled_ns``) and removed once the server answered 201 or 200.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
from dataclasses import dataclass
from datetime import date
from hashlib import sha1
from pathlib import Path

__all__ = ["PendingEntry", "Spool", "SpoolBusy", "atomic_write"]

_SLUG_RE = re.compile(r"[^A-Za-z0-9_-]")
STATE_VERSION = 1


class SpoolBusy(Exception):
    """Another crawler process holds the spool lock."""


def atomic_write(path: Path, data: bytes, tmp_dir: Path | None = None) -> None:
    """Write to a temporary name in the same file system, fsync, rename over ``path``, fsync the folder."""
    tmp_dir = tmp_dir or path.parent
    tmp_dir.mkdir(parents=True, exist_ok=True)
    tmp = tmp_dir / f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _dump(obj) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=False) + "\n").encode("utf-8")


def logger_slug(code: str) -> str:
    slug = _SLUG_RE.sub("_", code)[:40] or "logger"
    if slug != code:  # keep distinct codes distinct ("A 1" and "A/1")
        slug += "-" + sha1(code.encode("utf-8")).hexdigest()[:8]  # noqa: S324 - a name, not security
    return slug


@dataclass(frozen=True)
class PendingEntry:
    sidecar_path: Path
    blob_path: Path
    meta: dict

    @property
    def logger(self) -> str:
        return self.meta["logger"]

    @property
    def sha256(self) -> str:
        return self.meta["sha256"]

    @property
    def remote_path(self) -> str:
        return self.meta["remote_path"]

    def read(self) -> bytes:
        return self.blob_path.read_bytes()


class Spool:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.pending_dir = self.root / "pending"
        self.rejected_dir = self.root / "rejected"
        self.tmp_dir = self.root / "tmp"
        self.state_path = self.root / "delivered.json"
        self.clock_path = self.root / "clock.json"
        self._lock_fd: int | None = None
        self.state: dict = {}
        self.warnings: list[str] = []

    # ---------------------------------------------------------------- lifecycle

    def open(self) -> Spool:
        for d in (self.root, self.pending_dir, self.rejected_dir, self.tmp_dir):
            d.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SpoolBusy(f"another crawler run holds {self.root / '.lock'}") from None
        self._lock_fd = fd
        for leftover in self.tmp_dir.glob(".*.tmp"):  # a crash during a write: the old file (if any) is intact
            with contextlib.suppress(OSError):
                leftover.unlink()
        self.warnings: list[str] = []
        try:
            self.state = self._load_json(self.state_path, {"version": STATE_VERSION, "files": {}, "digests": {}})
        except RuntimeError as exc:
            self.warnings.append(f"{exc}: starting a new state (files are re-checked by digest)")
            self.state = {"version": STATE_VERSION, "files": {}, "digests": {}}
        self.state.setdefault("files", {})
        self.state.setdefault("digests", {})
        return self

    def close(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Spool:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    @staticmethod
    def _load_json(path: Path, default):
        try:
            return json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return default
        except (OSError, ValueError) as exc:
            # never lose the spool over a damaged state file: keep it aside and start afresh (files are re-checked by digest)
            aside = path.with_name(path.name + f".damaged-{int(time.time())}")
            with contextlib.suppress(OSError):
                path.replace(aside)
            raise RuntimeError(f"{path} was unreadable ({exc}); moved to {aside}") from None

    def save_state(self) -> None:
        atomic_write(self.state_path, _dump(self.state), self.tmp_dir)

    # ---------------------------------------------------------------- state of remote files

    def file_record(self, logger: str, remote_path: str) -> dict | None:
        return self.state["files"].get(logger, {}).get(remote_path)

    def set_file_record(self, logger: str, remote_path: str, record: dict) -> None:
        self.state["files"].setdefault(logger, {})[remote_path] = record

    def digest_status(self, logger: str, sha256: str) -> str | None:
        """'delivered' or 'rejected' when these bytes were already handled for this logger, else None."""
        known = self.state["digests"].get(logger, {}).get(sha256)
        return known.get("status") if isinstance(known, dict) else None

    def _set_digest(self, logger: str, sha256: str, status: str, day: str | None) -> None:
        self.state["digests"].setdefault(logger, {})[sha256] = {"status": status, "day": day}

    def prune(self, *, before: date) -> None:
        """Forget files and digests of days before ``before`` (never pending entries: those live in pending/)."""
        cutoff = before.isoformat()
        changed = False
        for section in ("files", "digests"):
            for items in self.state[section].values():
                old = [key for key, rec in items.items() if isinstance(rec, dict) and rec.get("status") != "pending"
                       and (rec.get("day") or "9999") < cutoff]  # fmt: skip
                for key in old:
                    del items[key]
                changed = changed or bool(old)
        if changed:
            self.save_state()

    # ---------------------------------------------------------------- pending entries

    def _names(self, logger: str, sha256: str) -> tuple[str, str]:
        base = f"{sha256}.{logger_slug(logger)}"
        return f"{base}.csv", f"{base}.json"

    def is_pending(self, logger: str, sha256: str) -> bool:
        _, side = self._names(logger, sha256)
        return (self.pending_dir / side).exists()

    def add(self, meta: dict, data: bytes) -> PendingEntry:
        blob, side = self._names(meta["logger"], meta["sha256"])
        meta = {**meta, "spooled_ns": time.time_ns()}
        atomic_write(self.pending_dir / blob, data, self.tmp_dir)
        atomic_write(self.pending_dir / side, _dump(meta), self.tmp_dir)
        return PendingEntry(self.pending_dir / side, self.pending_dir / blob, meta)

    def pending(self) -> list[PendingEntry]:
        entries = []
        for side in self.pending_dir.glob("*.json"):
            try:
                meta = json.loads(side.read_text("utf-8"))
            except (OSError, ValueError):
                continue
            blob = side.with_suffix(".csv")
            if not blob.exists():
                continue
            entries.append(PendingEntry(side, blob, meta))
        entries.sort(key=lambda e: (e.meta.get("spooled_ns", 0), e.sidecar_path.name))
        return entries

    def mark_delivered(self, entry: PendingEntry, *, status: str, upload_id, at: str) -> None:
        self._set_digest(entry.logger, entry.sha256, "delivered", entry.meta.get("day"))
        record = self.file_record(entry.logger, entry.remote_path)
        if record is not None and record.get("sha256") == entry.sha256:
            record.update(status="delivered", delivered_at=at, upload_id=upload_id, server_status=status)
        self.save_state()
        entry.sidecar_path.unlink(missing_ok=True)
        entry.blob_path.unlink(missing_ok=True)

    def mark_rejected(self, entry: PendingEntry, *, http_status: int, reason, at: str) -> Path:
        meta = {**entry.meta, "rejected": {"http_status": http_status, "reason": reason, "at": at}}
        target_side = self.rejected_dir / entry.sidecar_path.name
        target_blob = self.rejected_dir / entry.blob_path.name
        os.replace(entry.blob_path, target_blob)
        atomic_write(target_side, _dump(meta), self.tmp_dir)
        entry.sidecar_path.unlink(missing_ok=True)
        _fsync_dir(self.pending_dir)
        self._set_digest(entry.logger, entry.sha256, "rejected", entry.meta.get("day"))
        record = self.file_record(entry.logger, entry.remote_path)
        if record is not None and record.get("sha256") == entry.sha256:
            record.update(status="rejected", rejected_at=at)
        self.save_state()
        return target_side

    # ---------------------------------------------------------------- clock pairs

    def load_clock(self) -> dict:
        try:
            return self._load_json(self.clock_path, {})
        except RuntimeError:
            return {}

    def save_clock(self, pairs: dict) -> None:
        atomic_write(self.clock_path, _dump(pairs), self.tmp_dir)
