"""Object storage: one interface (:class:`Storage`), one backend per URL scheme.

``open_storage("file:///srv/timesheets")`` or ``open_storage("s3://bucket/prefix")`` picks
the backend. The S3 backend, and so boto3, is imported only when an ``s3://`` URL is
opened or ``S3Storage`` is named, which keeps worker start-up fast on local storage.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from timesheet_batch.errors import ConfigurationError
from timesheet_batch.storage.base import ObjectInfo, Storage
from timesheet_batch.storage.local import LocalStorage

if TYPE_CHECKING:
    from timesheet_batch.storage.s3 import S3Storage

__all__ = ["LocalStorage", "ObjectInfo", "S3Storage", "Storage", "open_storage"]


def __getattr__(name: str) -> Any:
    """Import ``S3Storage`` (and boto3) on first access only."""
    if name == "S3Storage":
        from timesheet_batch.storage.s3 import S3Storage

        return S3Storage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _open_file(url: str, s3_endpoint_url: str | None) -> Storage:
    # The path is taken literally, not percent-decoded: Settings builds file:// URLs by
    # plain string formatting, and LocalStorage.url does the same.
    path = url.split(":", 1)[1]
    path = path[2:] if path.startswith("//") else path
    if not path:
        raise ConfigurationError("storage URL file:// names no folder")
    return LocalStorage(Path(path))


def _open_s3(url: str, s3_endpoint_url: str | None) -> Storage:
    # Deferred: boto3 costs every process that only uses local storage its import time.
    from timesheet_batch.storage.s3 import S3Storage

    parts = urlsplit(url)
    if not parts.netloc:
        raise ConfigurationError("storage URL s3:// names no bucket (use s3://bucket/prefix)")
    if parts.query or parts.fragment:
        raise ConfigurationError("storage URL s3://... must not hold a query or fragment")
    return S3Storage(
        bucket=parts.netloc, prefix=parts.path.strip("/"), endpoint_url=s3_endpoint_url
    )


# URL scheme -> factory(url, s3_endpoint_url). A new backend adds one entry here.
_BACKENDS: dict[str, Callable[[str, str | None], Storage]] = {
    "file": _open_file,
    "s3": _open_s3,
}


def open_storage(url: str, *, s3_endpoint_url: str | None = None) -> Storage:
    """The storage backend for ``url`` (``file://PATH`` or ``s3://BUCKET[/PREFIX]``).

    ``s3_endpoint_url`` points the S3 backend at a non-AWS server (MinIO, moto). An unknown
    scheme raises ConfigurationError. Nothing is contacted here; call ``check()`` for that.
    """
    scheme = urlsplit(url).scheme.lower() if isinstance(url, str) else ""
    factory = _BACKENDS.get(scheme)
    if factory is None:
        raise ConfigurationError(
            f"unsupported storage URL scheme {scheme!r} (use one of {sorted(_BACKENDS)})"
        )
    return factory(url, s3_endpoint_url)
