"""Crawler configuration: a TOML file (CONTRACT section 4 plus the optional keys documented in crawler/README.md).

Every problem raises :class:`ConfigError` whose message names the file, the section and the key, e.g.
``/etc/moira-crawler/crawler.toml: [[loggers]] #2 (code "A-12") port: must be an integer from 1 to 65535``.
Unknown keys are errors too, so that a typo (``clock_ofset_s``) is not silently ignored.
"""

from __future__ import annotations

import base64
import binascii
import re
import tomllib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["AUTO_PROBE", "CLOCKS", "Config", "ConfigError", "LoggerConfig", "ServerConfig", "SiteConfig", "load"]

AUTO_PROBE = "mtime"  # the automatic clock probe: modification time of the file being written (FTP MDTM / SFTP stat)
CLOCKS = ("none", "fixed", AUTO_PROBE)
PROTOCOLS = ("ftp", "sftp")
HOST_KEY_POLICIES = ("reject", "accept-new")
MTIME_ROUNDINGS = ("down", "up", "unknown")


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file, the section and the key."""


@dataclass(frozen=True)
class ServerConfig:
    url: str  # without a trailing slash
    token: str
    spool_dir: Path
    timeout_s: float = 30.0
    retries: int = 2
    retry_backoff_s: float = 2.0
    max_clock_skew_s: float = 5.0


@dataclass(frozen=True)
class SiteConfig:
    timezone: str
    tz: ZoneInfo
    catch_up_days: int = 7


@dataclass(frozen=True)
class LoggerConfig:
    code: str
    host: str
    port: int
    protocol: str
    username: str
    password: str
    root: str
    clock: str
    clock_offset_s: Decimal | None = None
    passive: bool = True
    timeout_s: float = 20.0
    key_file: Path | None = None
    host_key: str | None = None
    known_hosts: Path | None = None
    host_key_policy: str = "reject"
    probe_timeout_s: float = 75.0
    probe_poll_s: float = 1.0
    mtime_zone: str = "logger"  # how the server's file times read: "logger" (the logger's wall clock) or an IANA zone / "UTC"
    mtime_resolution_s: Decimal = Decimal(2)
    mtime_rounding: str = "unknown"  # how the file system rounds file times to its resolution: "down", "up" or "unknown"


@dataclass(frozen=True)
class Config:
    path: Path
    server: ServerConfig
    site: SiteConfig
    loggers: tuple[LoggerConfig, ...]


_SERVER_KEYS = {"url", "token", "spool_dir", "timeout_s", "retries", "retry_backoff_s", "max_clock_skew_s"}
_SITE_KEYS = {"timezone", "catch_up_days"}
_LOGGER_KEYS = {
    "code", "host", "port", "protocol", "username", "password", "root", "clock", "clock_offset_s", "passive", "timeout_s",
    "key_file", "host_key", "known_hosts", "host_key_policy", "probe_timeout_s", "probe_poll_s", "mtime_zone",
    "mtime_resolution_s", "mtime_rounding",
}  # fmt: skip
_HOST_KEY_RE = re.compile(r"(ssh-rsa|ssh-ed25519|ecdsa-sha2-nistp(?:256|384|521))\s+([A-Za-z0-9+/=]+)(?:\s+\S.*)?")
_FINGERPRINT_RE = re.compile(r"SHA256:[A-Za-z0-9+/]{43}=?")


class _Section:
    """Typed reads of one TOML table, with error messages that name where the key lives."""

    def __init__(self, path: Path, label: str, table: dict, allowed: set[str]):
        self.path, self.label, self.table = path, label, table
        for key in table:
            if key not in allowed:
                raise self.error(key, f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.path}: {self.label} {key}: {message}")

    def has(self, key: str) -> bool:
        return key in self.table

    def string(self, key: str, default: str | None = None, *, required: bool = False, allow_empty: bool = False) -> str | None:
        if key not in self.table:
            if required:
                raise self.error(key, "missing")
            return default
        value = self.table[key]
        if not isinstance(value, str):
            raise self.error(key, f"must be a string, not {_toml_type(value)}")
        if not allow_empty and not value.strip():
            raise self.error(key, "must not be empty")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str | None = None) -> str:
        value = self.string(key, default, required=default is None)
        if value not in choices:
            raise self.error(key, f"must be one of {', '.join(repr(c) for c in choices)}, not {value!r}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, not {_toml_type(value)}")
        return value

    def integer(self, key: str, default: int | None, lo: int, hi: int) -> int:
        if key not in self.table and default is not None:
            return default
        if key not in self.table:
            raise self.error(key, "missing")
        value = self.table[key]
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise self.error(key, f"must be an integer from {lo} to {hi}")
        return value

    def number(self, key: str, default: float, lo: float, hi: float) -> float:
        value = self.table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
            raise self.error(key, f"must be a number from {lo:g} to {hi:g}")
        return float(value)

    def decimal(self, key: str, lo: Decimal, hi: Decimal) -> Decimal:
        value = self.table[key]
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise self.error(key, f"must be a number of seconds, not {_toml_type(value)}")
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation:
            raise self.error(key, f"must be a number of seconds, not {value!r}") from None
        if not result.is_finite() or not lo <= result <= hi:
            raise self.error(key, f"must be a number of seconds from {lo} to {hi}")
        return result

    def path_value(self, key: str, base: Path) -> Path | None:
        value = self.string(key)
        if value is None:
            return None
        p = Path(value).expanduser()
        return p if p.is_absolute() else (base / p)


def _toml_type(value: object) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array", dict: "a table"}.get(
        type(value), type(value).__name__
    )


def _zone(section: _Section, key: str, name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise section.error(key, f"unknown time zone {name!r} (use an IANA name such as 'Asia/Tokyo')") from None


def _server(path: Path, data: dict) -> ServerConfig:
    s = _Section(path, "[server]", data, _SERVER_KEYS)
    url = s.string("url", required=True).strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise s.error("url", f"must be an http:// or https:// URL, not {url!r}")
    token = s.string("token", required=True).strip()
    if any(c.isspace() for c in token):
        raise s.error("token", "must not contain spaces (paste the token printed by 'manage.py crawler_token')")
    spool = s.path_value("spool_dir", path.parent)
    if spool is None:
        raise s.error("spool_dir", "missing")
    return ServerConfig(
        url=url.rstrip("/"),
        token=token,
        spool_dir=spool,
        timeout_s=s.number("timeout_s", 30.0, 0.1, 3600),
        retries=s.integer("retries", 2, 0, 10),
        retry_backoff_s=s.number("retry_backoff_s", 2.0, 0, 600),
        max_clock_skew_s=s.number("max_clock_skew_s", 5.0, 0, 86400),
    )


def _site(path: Path, data: dict) -> SiteConfig:
    s = _Section(path, "[site]", data, _SITE_KEYS)
    name = s.string("timezone", required=True).strip()
    return SiteConfig(timezone=name, tz=_zone(s, "timezone", name), catch_up_days=s.integer("catch_up_days", 7, 0, 366))


def _logger(path: Path, index: int, data: object) -> LoggerConfig:
    label = f"[[loggers]] #{index}"
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: {label}: must be a table")
    if isinstance(data.get("code"), str) and data["code"].strip():
        label += f' (code "{data["code"].strip()}")'
    s = _Section(path, label, data, _LOGGER_KEYS)
    code = s.string("code", required=True).strip()
    protocol = s.choice("protocol", PROTOCOLS, "ftp")
    clock = s.choice("clock", CLOCKS, "none")
    offset = None
    if clock == "fixed":
        if not s.has("clock_offset_s"):
            raise s.error("clock_offset_s", 'missing (required with clock = "fixed": seconds to add to the logger clock)')
        offset = s.decimal("clock_offset_s", Decimal(-86400), Decimal(86400))
    elif s.has("clock_offset_s"):
        raise s.error("clock_offset_s", f'only used with clock = "fixed" (this logger has clock = "{clock}")')
    password = s.string("password", "", allow_empty=True)
    key_file = s.path_value("key_file", path.parent)
    if protocol == "ftp":
        for key in ("key_file", "host_key", "known_hosts", "host_key_policy"):
            if s.has(key):
                raise s.error(key, 'only used with protocol = "sftp"')
    else:
        if s.has("passive"):
            raise s.error("passive", 'only used with protocol = "ftp"')
        if key_file is not None and not key_file.is_file():
            raise s.error("key_file", f"no such file: {key_file}")
        if not password and key_file is None:
            raise s.error("password", "missing (an SFTP logger needs a password or a key_file)")
    host_key = s.string("host_key")
    if host_key is not None:
        host_key = host_key.strip()
        m = _HOST_KEY_RE.fullmatch(host_key)
        if m:
            try:
                base64.b64decode(m[2], validate=True)
            except (binascii.Error, ValueError):
                m = None
        if not m and not _FINGERPRINT_RE.fullmatch(host_key):
            raise s.error("host_key", "must be 'SHA256:<base64 fingerprint>' or '<key type> <base64 key>' (as in known_hosts)")
    mtime_zone = s.string("mtime_zone", "logger" if protocol == "ftp" else "UTC").strip()
    if mtime_zone != "logger":
        _zone(s, "mtime_zone", mtime_zone)
    resolution = s.decimal("mtime_resolution_s", Decimal("0.001"), Decimal(60)) if s.has("mtime_resolution_s") else None
    return LoggerConfig(
        code=code,
        host=s.string("host", required=True).strip(),
        port=s.integer("port", 21 if protocol == "ftp" else 22, 1, 65535),
        protocol=protocol,
        username=s.string("username", required=True),
        password=password,
        root=s.string("root", "/").strip() or "/",
        clock=clock,
        clock_offset_s=offset,
        passive=s.boolean("passive", True),
        timeout_s=s.number("timeout_s", 20.0, 0.1, 3600),
        key_file=key_file,
        host_key=host_key,
        known_hosts=s.path_value("known_hosts", path.parent),
        host_key_policy=s.choice("host_key_policy", HOST_KEY_POLICIES, "reject"),
        probe_timeout_s=s.number("probe_timeout_s", 75.0, 0, 3600),
        probe_poll_s=s.number("probe_poll_s", 1.0, 0.01, 60),
        mtime_zone=mtime_zone,
        # FAT (the logger's SD card) stores modification times in 2-second steps; an SFTP server's stat is 1 s
        mtime_resolution_s=resolution if resolution is not None else Decimal(2 if protocol == "ftp" else 1),
        # FAT writers differ (Windows rounds up, others truncate); SFTP servers on Unix truncate to whole seconds
        mtime_rounding=s.choice("mtime_rounding", MTIME_ROUNDINGS, "unknown" if protocol == "ftp" else "down"),
    )


def load(path: str | Path) -> Config:
    """Read and validate the configuration file; raises :class:`ConfigError`."""
    path = Path(path).expanduser().absolute()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration file: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    for key in data:
        if key not in ("server", "site", "loggers"):
            raise ConfigError(f"{path}: [{key}]: unknown section (allowed: [server], [site], [[loggers]])")
    for key in ("server", "site"):
        if key not in data:
            raise ConfigError(f"{path}: [{key}]: missing section")
        if not isinstance(data[key], dict):
            raise ConfigError(f"{path}: [{key}]: must be a table")
    loggers_raw = data.get("loggers")
    if not isinstance(loggers_raw, list) or not loggers_raw:
        raise ConfigError(f"{path}: [[loggers]]: missing (add one [[loggers]] table per logger)")
    loggers = tuple(_logger(path, i, item) for i, item in enumerate(loggers_raw, start=1))
    seen: dict[str, int] = {}
    for i, lg in enumerate(loggers, start=1):
        if lg.code in seen:
            raise ConfigError(f'{path}: [[loggers]] #{i} (code "{lg.code}") code: duplicate of [[loggers]] #{seen[lg.code]}')
        seen[lg.code] = i
    return Config(path=path, server=_server(path, data["server"]), site=_site(path, data["site"]), loggers=loggers)
