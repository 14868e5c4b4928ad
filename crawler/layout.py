"""Where a PW3360 keeps its files: ``<root>/PW3360/YYMMDDnn/MMDD####.CSV``.

* ``YYMMDDnn``: the recording's start date and a two-digit counter (00-99; several recordings a day are possible).
* ``MMDD####.CSV``: the measurement file and its split parts (0000, 0001, ... a file is split past 200 MB).
* Everything else (``YYMMDDnn.SET`` settings, ``HARMONIC/``, waveform files, other folders) is ignored.

Names are matched case-insensitively (``pw3360``, ``.csv``). A file is attributed to the date of its folder.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from datetime import date

from .sources import RemoteEntry, Source

__all__ = ["DayFile", "FILE_RE", "FOLDER_RE", "find_base", "list_day_files", "list_folders"]

FOLDER_RE = re.compile(r"(\d{2})(\d{2})(\d{2})(\d{2})")
FILE_RE = re.compile(r"(\d{2})(\d{2})(\d{4})\.csv", re.IGNORECASE)
BASE_NAME = "PW3360"


@dataclass(frozen=True)
class Folder:
    day: date
    counter: int
    entry: RemoteEntry


@dataclass(frozen=True)
class DayFile:
    day: date
    folder: str  # folder name, e.g. '26030200'
    part: int  # split part number (the last four digits)
    entry: RemoteEntry

    @property
    def path(self) -> str:
        return self.entry.path

    @property
    def name(self) -> str:
        return self.entry.name


def find_base(src: Source, root: str) -> str | None:
    """The ``PW3360`` folder under ``root`` (any case), or None."""
    root = posixpath.normpath(root) if root not in ("", "/") else "/"
    for entry in src.list_dir(root):
        if entry.name.upper() == BASE_NAME and entry.is_dir is not False:
            return entry.path
    return None


def folder_day(name: str) -> tuple[date, int] | None:
    m = FOLDER_RE.fullmatch(name)
    if not m:
        return None
    try:
        return date(2000 + int(m[1]), int(m[2]), int(m[3])), int(m[4])
    except ValueError:
        return None


def list_folders(src: Source, base: str) -> list[Folder]:
    folders = []
    for entry in src.list_dir(base):
        if entry.is_dir is False:
            continue
        parsed = folder_day(entry.name)
        if parsed is not None:
            folders.append(Folder(parsed[0], parsed[1], entry))
    folders.sort(key=lambda f: (f.day, f.counter, f.entry.name))
    return folders


def list_day_files(src: Source, folder: Folder) -> list[DayFile]:
    """The measurement files of one recording folder, in split-part order."""
    files = []
    for entry in src.list_dir(folder.entry.path):
        if entry.is_dir is True:
            continue
        m = FILE_RE.fullmatch(entry.name)
        if not m:
            continue
        files.append(DayFile(folder.day, folder.entry.name, int(m[3]), entry))
    files.sort(key=lambda f: (f.part, f.entry.name))
    return files
