"""The storage layout (docs/architecture.md, "Storage layout") and key safety.

Every key the package builds or accepts goes through :func:`safe_key`, so a vendor id or
file name cannot climb out of its folder (``..``, absolute paths, backslashes, NUL).
"""

from __future__ import annotations

import datetime as dt
import posixpath
import re
from dataclasses import dataclass

from timesheet_batch.errors import UnsafeKeyError

VENDOR_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_FILE_NAME_RE = re.compile(r"^[^/\\\x00]{1,255}$")
MAX_KEY_LENGTH = 1024

INBOUND = "inbound"
PROCESSED = "processed"
REJECTS = "rejects"
OUTBOUND = "outbound"
REPORTS = "reports"
PROCESSED_SUFFIX = ".parquet"
REJECTS_SUFFIX = ".rejects.csv"


def safe_key(key: str) -> str:
    """Return ``key`` if it stays inside the storage root, else raise UnsafeKeyError."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise UnsafeKeyError("storage key must be a non-empty string of at most 1024 characters", key=str(key)[:80])
    if "\\" in key or "\x00" in key or key.startswith("/"):
        raise UnsafeKeyError(f"storage key {key!r} is absolute or holds a backslash or NUL", key=key)
    parts = key.split("/")
    if any(part in ("", ".", "..") for part in parts) or posixpath.normpath(key) != key:
        raise UnsafeKeyError(f"storage key {key!r} escapes its folder or is not normalised", key=key)
    return key


def safe_vendor_id(vendor_id: str) -> str:
    """Return ``vendor_id`` if it matches ``[A-Za-z0-9_-]{1,64}``, else raise UnsafeKeyError."""
    if not isinstance(vendor_id, str) or not VENDOR_ID_RE.match(vendor_id):
        raise UnsafeKeyError(f"vendor id {str(vendor_id)[:80]!r} is not [A-Za-z0-9_-]{{1,64}}")
    return vendor_id


def _safe_name(name: str) -> str:
    if not _FILE_NAME_RE.match(name) or name in (".", ".."):
        raise UnsafeKeyError(f"file name {name[:80]!r} is not a plain file name")
    return name


def _day(day: dt.date) -> str:
    return day.isoformat()


def inbound_prefix(day: dt.date) -> str:
    return f"{INBOUND}/{_day(day)}/"


def processed_prefix(day: dt.date) -> str:
    return f"{PROCESSED}/{_day(day)}/"


def processed_key(day: dt.date, vendor_id: str, file_name: str) -> str:
    """Canonical records of one inbound file: ``processed/{date}/{vendor}/{file}.parquet``."""
    return safe_key(f"{PROCESSED}/{_day(day)}/{safe_vendor_id(vendor_id)}/{_safe_name(file_name)}{PROCESSED_SUFFIX}")


def rejects_key(day: dt.date, vendor_id: str, file_name: str) -> str:
    return safe_key(f"{REJECTS}/{_day(day)}/{safe_vendor_id(vendor_id)}/{_safe_name(file_name)}{REJECTS_SUFFIX}")


def outbound_key(day: dt.date, vendor_id: str, file_name: str) -> str:
    return safe_key(f"{OUTBOUND}/{safe_vendor_id(vendor_id)}/{_day(day)}/{_safe_name(file_name)}")


def report_key(day: dt.date, file_name: str) -> str:
    return safe_key(f"{REPORTS}/{_day(day)}/{_safe_name(file_name)}")


@dataclass(frozen=True)
class FileKey:
    """A parsed ``{area}/{date}/{vendor}/{file}`` key (inbound and processed areas)."""

    area: str
    business_date: dt.date
    vendor_id: str
    file_name: str
    key: str

    @property
    def source_name(self) -> str:
        """The inbound file name this key stands for (``a.csv`` for ``a.csv.parquet``)."""
        if self.area == PROCESSED:
            return self.file_name.removesuffix(PROCESSED_SUFFIX)
        return self.file_name


def parse_file_key(key: str) -> FileKey:
    """Parse an inbound or processed key; UnsafeKeyError names what is wrong with it."""
    safe_key(key)
    parts = key.split("/")
    if len(parts) != 4 or parts[0] not in (INBOUND, PROCESSED):
        raise UnsafeKeyError(
            f"key {key!r} is not inbound/{{YYYY-MM-DD}}/{{vendor}}/{{file}} or processed/...", key=key
        )
    area, day, vendor_id, file_name = parts
    try:
        business_date = dt.date.fromisoformat(day)
    except ValueError:
        raise UnsafeKeyError(f"key {key!r}: {day!r} is not a YYYY-MM-DD date", key=key) from None
    return FileKey(area, business_date, safe_vendor_id(vendor_id), _safe_name(file_name), key)
