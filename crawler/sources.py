"""FTP and SFTP access to a logger behind one small interface.

``open_source(logger_config)`` returns a connected :class:`Source` (a context manager) with:

* ``list_dir(path) -> list[RemoteEntry]``: the entries of a folder, with size and modification time when the server
  gives them (FTP: ``MLSD``, else ``NLST`` plus ``SIZE``/``MDTM`` per file; SFTP: ``stat``);
* ``fetch(path) -> bytes``: the whole file (FTP binary mode / SFTP read);
* ``file_time(path) -> (naive datetime, resolution)``: the file's modification time as the server reports it, for
  the clock probe (FTP ``MDTM``; SFTP ``stat`` mtime). Raises :class:`ProbeUnsupported` when the server has no way.

Every network or protocol failure raises :class:`SourceError` with a message fit for a log line.
"""

from __future__ import annotations

import ftplib
import io
import posixpath
import socket
import stat as stat_module
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from .config import LoggerConfig

__all__ = ["FTPSource", "ProbeUnsupported", "RemoteEntry", "SFTPSource", "Source", "SourceError", "open_source"]


class SourceError(Exception):
    """The logger cannot be reached, refused the login, or a transfer failed."""


class ProbeUnsupported(SourceError):
    """The logger's server cannot report a file's modification time."""


@dataclass(frozen=True)
class RemoteEntry:
    name: str
    path: str
    is_dir: bool | None  # None: the server did not say (NLST fallback)
    size: int | None = None
    mtime: str | None = None  # the server's modification time as text, used only to notice a change


class Source:
    code: str

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:  # pragma: no cover - overridden
        pass

    def list_dir(self, path: str) -> list[RemoteEntry]:  # pragma: no cover - overridden
        raise NotImplementedError

    def fetch(self, path: str) -> bytes:  # pragma: no cover - overridden
        raise NotImplementedError

    def file_time(self, path: str) -> tuple[datetime, Decimal | None]:  # pragma: no cover - overridden
        raise NotImplementedError


# --------------------------------------------------------------------------------------------- FTP

_NETWORK_ERRORS = (OSError, EOFError, ftplib.Error)


def _ftp_reply_code(exc: BaseException) -> int | None:
    text = str(exc)
    return int(text[:3]) if text[:3].isdigit() else None


def parse_mdtm(reply: str) -> tuple[datetime, Decimal | None]:
    """``213 20261102180001`` or ``213 20261102180001.123`` -> (naive datetime, resolution of the fraction or None)."""
    code, _, value = reply.strip().partition(" ")
    value = value.strip()
    if code != "213" or len(value) < 14 or not value[:14].isdigit():
        raise ValueError(f"unexpected MDTM reply {reply.strip()!r}")
    stamp = datetime.strptime(value[:14], "%Y%m%d%H%M%S")  # noqa: DTZ007 - the logger clock, zone decided by the caller
    frac = value[15:] if value[14:15] == "." else ""
    if frac:
        if not frac.isdigit():
            raise ValueError(f"unexpected MDTM reply {reply.strip()!r}")
        digits = frac[:6]
        stamp = stamp.replace(microsecond=int(digits.ljust(6, "0")))
        return stamp, Decimal(1).scaleb(-len(frac))
    return stamp, None


class FTPSource(Source):
    def __init__(self, cfg: LoggerConfig):
        self.code = cfg.code
        self.cfg = cfg
        self.ftp = ftplib.FTP(timeout=cfg.timeout_s, encoding="latin-1")
        try:
            self.ftp.connect(cfg.host, cfg.port, timeout=cfg.timeout_s)
            self.ftp.login(cfg.username, cfg.password)
            self.ftp.set_pasv(cfg.passive)
            self.ftp.voidcmd("TYPE I")
        except _NETWORK_ERRORS as exc:
            self.close()
            raise SourceError(f"cannot connect to ftp://{cfg.host}:{cfg.port} as {cfg.username!r}: {_describe(exc)}") from None
        self._mlsd = True

    def close(self) -> None:
        try:
            self.ftp.quit()
        except Exception:  # closing a broken connection
            self.ftp.close()

    def list_dir(self, path: str) -> list[RemoteEntry]:
        if self._mlsd:
            try:
                entries = []
                for name, facts in self.ftp.mlsd(path, facts=["type", "size", "modify"]):
                    kind = facts.get("type", "").lower()
                    if kind in ("cdir", "pdir") or name in (".", ".."):
                        continue
                    size = facts.get("size")
                    entries.append(RemoteEntry(
                        name=name, path=posixpath.join(path, name), is_dir=kind == "dir" if kind else None,
                        size=int(size) if size and size.isdigit() else None, mtime=facts.get("modify"),
                    ))  # fmt: skip
                return entries
            except ftplib.error_perm as exc:
                if _ftp_reply_code(exc) not in (500, 501, 502, 504):
                    raise SourceError(f"cannot list {path}: {_describe(exc)}") from None
                self._mlsd = False  # the server has no MLSD: NLST plus SIZE/MDTM from now on
            except _NETWORK_ERRORS as exc:
                raise SourceError(f"cannot list {path}: {_describe(exc)}") from None
        try:
            names = self.ftp.nlst(path)
        except ftplib.error_perm as exc:
            if str(exc).startswith("550"):  # some servers answer 550 for an empty folder
                return []
            raise SourceError(f"cannot list {path}: {_describe(exc)}") from None
        except _NETWORK_ERRORS as exc:
            raise SourceError(f"cannot list {path}: {_describe(exc)}") from None
        entries = []
        for raw in names:
            name = posixpath.basename(raw.rstrip("/"))
            if name in (".", "..", ""):
                continue
            entries.append(RemoteEntry(name=name, path=posixpath.join(path, name), is_dir=None))
        return entries

    def describe_file(self, entry: RemoteEntry) -> RemoteEntry:
        """Size and modification time of a file listed without them (NLST), best effort."""
        if entry.size is not None and entry.mtime is not None:
            return entry
        size, mtime = entry.size, entry.mtime
        try:
            if size is None:
                reply = self.ftp.sendcmd(f"SIZE {entry.path}")
                size = int(reply.split()[1]) if reply.startswith("213") else None
            if mtime is None:
                reply = self.ftp.sendcmd(f"MDTM {entry.path}")
                mtime = reply.split()[1] if reply.startswith("213") else None
        except ftplib.error_perm:
            pass
        except (ValueError, IndexError):
            pass
        except _NETWORK_ERRORS as exc:
            raise SourceError(f"cannot read the size of {entry.path}: {_describe(exc)}") from None
        return RemoteEntry(name=entry.name, path=entry.path, is_dir=False if size is not None else entry.is_dir, size=size, mtime=mtime)

    def fetch(self, path: str) -> bytes:
        buf = io.BytesIO()
        try:
            self.ftp.retrbinary(f"RETR {path}", buf.write)
        except _NETWORK_ERRORS as exc:
            raise SourceError(f"cannot download {path}: {_describe(exc)}") from None
        return buf.getvalue()

    def file_time(self, path: str) -> tuple[datetime, Decimal | None]:
        try:
            reply = self.ftp.sendcmd(f"MDTM {path}")
        except ftplib.error_perm as exc:
            if _ftp_reply_code(exc) in (500, 501, 502, 504):
                raise ProbeUnsupported(f"the FTP server does not support MDTM ({_describe(exc)})") from None
            raise SourceError(f"MDTM {path} failed: {_describe(exc)}") from None
        except _NETWORK_ERRORS as exc:
            raise SourceError(f"MDTM {path} failed: {_describe(exc)}") from None
        try:
            return parse_mdtm(reply)
        except ValueError as exc:
            raise ProbeUnsupported(str(exc)) from None


# --------------------------------------------------------------------------------------------- SFTP


def host_key_matches(expected: str, key) -> bool:
    """``expected`` is 'SHA256:...' (as ssh-keygen -lf prints) or '<type> <base64>' (as in known_hosts)."""
    expected = expected.strip()
    if expected.startswith("SHA256:"):
        return expected.rstrip("=") == key.fingerprint.rstrip("=")
    parts = expected.split()
    return len(parts) >= 2 and parts[0] == key.get_name() and parts[1] == key.get_base64()


def _known_hosts_name(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


class SFTPSource(Source):
    def __init__(self, cfg: LoggerConfig, *, default_known_hosts: Path | None = None, on_new_key=None):
        import paramiko  # imported here: an FTP-only crawler does not pay for it

        self.code = cfg.code
        self.cfg = cfg
        self.transport = None
        self.sftp = None
        try:
            sock = socket.create_connection((cfg.host, cfg.port), timeout=cfg.timeout_s)
        except OSError as exc:
            raise SourceError(f"cannot connect to sftp://{cfg.host}:{cfg.port}: {_describe(exc)}") from None
        try:
            self.transport = paramiko.Transport(sock)
            self.transport.banner_timeout = cfg.timeout_s
            self.transport.handshake_timeout = cfg.timeout_s
            self.transport.start_client(timeout=cfg.timeout_s)
            self._check_host_key(paramiko, self.transport.get_remote_server_key(), default_known_hosts, on_new_key)
            if cfg.key_file is not None:
                pkey = paramiko.PKey.from_path(cfg.key_file, passphrase=cfg.password or None)
                self.transport.auth_publickey(cfg.username, pkey)
            else:
                self.transport.auth_password(cfg.username, cfg.password)
            self.sftp = paramiko.SFTPClient.from_transport(self.transport)
            self.sftp.get_channel().settimeout(cfg.timeout_s)
        except SourceError:
            self.close()
            raise
        except (paramiko.SSHException, OSError, EOFError, ValueError) as exc:
            self.close()
            raise SourceError(f"cannot open SFTP to {cfg.host}:{cfg.port} as {cfg.username!r}: {_describe(exc)}") from None

    def _check_host_key(self, paramiko, key, default_known_hosts: Path | None, on_new_key) -> None:
        cfg = self.cfg
        fingerprint = key.fingerprint
        if cfg.host_key:
            if host_key_matches(cfg.host_key, key):
                return
            raise SourceError(f"host key of {cfg.host}:{cfg.port} is {fingerprint}, not the configured host_key: refusing to connect")
        name = _known_hosts_name(cfg.host, cfg.port)
        files = [p for p in (cfg.known_hosts, default_known_hosts, Path("~/.ssh/known_hosts").expanduser()) if p is not None]
        for path in files:
            if not path.is_file():
                continue
            keys = paramiko.HostKeys(str(path))
            known = keys.lookup(name)
            if known is None:
                continue
            stored = known.get(key.get_name())
            if stored is not None and stored.get_base64() == key.get_base64():
                return
            raise SourceError(f"host key of {name} changed (now {fingerprint}, {path} has another): refusing to connect")
        if cfg.host_key_policy != "accept-new":
            raise SourceError(f'unknown host key {fingerprint} for {name}: set host_key = "{fingerprint}" in the configuration '
                              f'(after checking it on the device), or host_key_policy = "accept-new"')
        target = cfg.known_hosts or default_known_hosts
        if target is None:
            raise SourceError(f"unknown host key {fingerprint} for {name} and no known_hosts file to record it in")
        keys = paramiko.HostKeys()
        if target.is_file():
            keys.load(str(target))
        keys.add(name, key.get_name(), key)
        target.parent.mkdir(parents=True, exist_ok=True)
        keys.save(str(target))
        if on_new_key is not None:
            on_new_key(f"accepted new host key {fingerprint} for {name}; saved to {target}")

    def close(self) -> None:
        for closer in (self.sftp, self.transport):
            if closer is not None:
                try:
                    closer.close()
                except Exception:  # closing a broken connection
                    pass

    def list_dir(self, path: str) -> list[RemoteEntry]:
        try:
            attrs = self.sftp.listdir_attr(path)
        except FileNotFoundError:
            return []
        except (OSError, EOFError) as exc:
            raise SourceError(f"cannot list {path}: {_describe(exc)}") from None
        return [
            RemoteEntry(
                name=a.filename, path=posixpath.join(path, a.filename),
                is_dir=stat_module.S_ISDIR(a.st_mode) if a.st_mode is not None else None,
                size=a.st_size, mtime=str(a.st_mtime) if a.st_mtime is not None else None,
            )  # fmt: skip
            for a in attrs
            if a.filename not in (".", "..")
        ]

    def describe_file(self, entry: RemoteEntry) -> RemoteEntry:
        return entry

    def fetch(self, path: str) -> bytes:
        try:
            size = self.sftp.stat(path).st_size
            with self.sftp.open(path, "rb") as fh:
                fh.prefetch(size)  # pipelined reads: much faster over a slow link
                return fh.read()
        except (OSError, EOFError) as exc:
            raise SourceError(f"cannot download {path}: {_describe(exc)}") from None

    def file_time(self, path: str) -> tuple[datetime, Decimal | None]:
        try:
            attrs = self.sftp.stat(path)
        except (OSError, EOFError) as exc:
            raise SourceError(f"stat {path} failed: {_describe(exc)}") from None
        if attrs.st_mtime is None:
            raise ProbeUnsupported("the SFTP server reports no modification time")
        # SFTP v3 mtimes are whole seconds since the epoch: read them as UTC digits; mtime_zone says what they mean
        return datetime.fromtimestamp(attrs.st_mtime, UTC).replace(tzinfo=None), None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def open_source(cfg: LoggerConfig, *, default_known_hosts: Path | None = None, on_new_key=None) -> Source:
    if cfg.protocol == "ftp":
        return FTPSource(cfg)
    return SFTPSource(cfg, default_known_hosts=default_known_hosts, on_new_key=on_new_key)
