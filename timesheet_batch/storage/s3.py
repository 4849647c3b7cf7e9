"""Storage in an S3 bucket (AWS or any S3-compatible server), under an optional key prefix."""

from __future__ import annotations

import contextlib
import functools
import io
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import boto3
from boto3.exceptions import S3UploadFailedError
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from timesheet_batch.errors import (
    ConfigurationError,
    ObjectNotFoundError,
    StorageError,
    StorageUnavailableError,
    TimesheetBatchError,
    UnsafeKeyError,
)
from timesheet_batch.storage.base import ObjectInfo, Storage
from timesheet_batch.storage.layout import safe_key
from timesheet_batch.storage.local import safe_prefix

_NOT_FOUND_CODES = {"NoSuchKey", "404", "NotFound"}
_NO_BUCKET_CODES = {"NoSuchBucket"}
_DENIED_CODES = {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"}
# Codes S3 and compatible servers use for "busy, try again"; 5xx statuses count too.
_TRANSIENT_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "InternalError",
    "ServiceUnavailable",
    "503",
}
_READ_CHUNK = 1024 * 1024


class S3Storage(Storage):
    """Keys are stored as ``{prefix}/{key}`` (or ``{key}`` if the prefix is empty).

    ``upload_file`` makes an object visible only once the whole upload (multipart for large
    files) completes, so publishing is atomic. The client gives up on an unreachable
    endpoint after two attempts of ``connect_timeout_s`` each.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        connect_timeout_s: float = 5,
        *,
        read_timeout_s: float = 60,
    ):
        if not bucket or "/" in bucket:
            raise ConfigurationError(f"S3 bucket name {bucket!r} is empty or holds a '/'")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        if self.prefix:
            try:
                safe_key(self.prefix)
            except UnsafeKeyError as exc:
                raise ConfigurationError(f"S3 key prefix {prefix!r} is not a safe key") from exc
        self.endpoint_url = endpoint_url
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"

    def __repr__(self) -> str:
        return f"S3Storage({self.url!r}, endpoint_url={self.endpoint_url!r})"

    @functools.cached_property
    def _client(self):
        # Built on first use, not in __init__: Celery forks workers after configuration, and
        # a client (with its connection pool) must not be shared across a fork. Its own
        # Session because boto3's default session is not thread-safe.
        config = Config(
            connect_timeout=self.connect_timeout_s,
            read_timeout=self.read_timeout_s,
            retries={"max_attempts": 2, "mode": "standard"},
            # Custom endpoints (moto, MinIO) are usually addressed by IP or a bare host name,
            # where virtual-host style bucket.host URLs do not resolve.
            s3={"addressing_style": "path"} if self.endpoint_url else None,
        )
        return boto3.session.Session().client("s3", endpoint_url=self.endpoint_url, config=config)

    def _full_key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    @contextlib.contextmanager
    def _errors(self, key: str | None):
        """Translate botocore errors into the package's error tree."""
        try:
            yield
        except TimesheetBatchError:
            raise
        except (ClientError, BotoCoreError, S3UploadFailedError) as exc:
            raise self._translate(exc, key) from exc

    def _translate(self, exc: BaseException, key: str | None) -> TimesheetBatchError:
        where = f"key {key!r}" if key is not None else f"bucket {self.bucket!r}"
        if isinstance(exc, S3UploadFailedError):
            # boto3 raises it while handling the ClientError that actually happened; its own
            # message repeats the local file name, so classify the original instead.
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, (ClientError, BotoCoreError)):
                return self._translate(cause, key)
            return StorageError(f"S3 upload to {where} failed", key=key)
        if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
            return ConfigurationError("no usable AWS credentials found for S3 storage")
        if isinstance(exc, (BotoConnectionError, HTTPClientError, IncompleteReadError)):
            endpoint = self.endpoint_url or "AWS S3"
            return StorageUnavailableError(
                f"S3 endpoint {endpoint} unreachable on {where}: {type(exc).__name__}"
            )
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            if code in _NO_BUCKET_CODES:
                return ConfigurationError(f"S3 bucket {self.bucket!r} does not exist")
            if code in _NOT_FOUND_CODES:
                return ObjectNotFoundError(f"no object at key {key!r}", key=key)
            if code in _TRANSIENT_CODES or status >= 500:
                return StorageUnavailableError(f"S3 is unavailable on {where}: {code or status}")
            return StorageError(f"S3 refused the request on {where}: {code or status}", key=key)
        return StorageError(f"S3 request on {where} failed: {type(exc).__name__}", key=key)

    # -- Storage -----------------------------------------------------------------------------

    def check(self) -> None:
        """HEAD the bucket: ConfigurationError if missing or forbidden, StorageUnavailable if
        the endpoint cannot be reached."""
        try:
            with self._errors(None):
                self._client.head_bucket(Bucket=self.bucket)
        except (ObjectNotFoundError, StorageError) as exc:
            # HEAD responses have no body, so a missing bucket is a bare 404 and a forbidden
            # one a bare 403: both are wrong settings, not a missing object.
            code = _client_error_code(exc.__cause__)
            if code in _NOT_FOUND_CODES | _NO_BUCKET_CODES:
                raise ConfigurationError(f"S3 bucket {self.bucket!r} does not exist") from exc
            if code in _DENIED_CODES:
                raise ConfigurationError(f"access to S3 bucket {self.bucket!r} is denied") from exc
            raise

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, sorted by key (streamed by page).

        S3 returns keys in UTF-8 byte order, which is Python's ``str`` order, so pages are
        passed on as they come. Keys that are not safe keys (folder markers ending in ``/``,
        objects written by other tools) cannot be addressed here and are skipped.
        """
        safe_prefix(prefix)
        return self._list(prefix)

    def _list(self, prefix: str) -> Iterator[ObjectInfo]:
        strip = len(self.prefix) + 1 if self.prefix else 0
        paginator = self._client.get_paginator("list_objects_v2")
        with self._errors(None):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._full_key(prefix)):
                for obj in page.get("Contents", []):
                    key = obj["Key"][strip:]
                    if _is_safe_key(key):
                        yield ObjectInfo(key, obj["Size"], obj.get("ETag", "").strip('"'))

    def open_read(self, key: str) -> BinaryIO:
        """A buffered stream over the object; ObjectNotFoundError if there is none."""
        safe_key(key)
        with self._errors(key):
            response = self._client.get_object(Bucket=self.bucket, Key=self._full_key(key))
        raw = _ObjectStream(response["Body"], self, key)
        return _ObjectReader(raw, response.get("ContentLength"))

    def publish_file(self, local_path: Path, key: str) -> None:
        """Upload ``local_path`` (multipart when large); visible only once complete."""
        safe_key(key)
        with self._errors(key):
            self._client.upload_file(str(local_path), self.bucket, self._full_key(key))

    def write_bytes(self, key: str, data: bytes | memoryview) -> None:
        """One PUT of ``data`` (small outputs): no temp file, visible only once complete."""
        safe_key(key)
        with self._errors(key):
            self._client.put_object(Bucket=self.bucket, Key=self._full_key(key), Body=bytes(data))

    def delete(self, key: str) -> None:
        """Remove the object; S3 itself reports no error when it is absent."""
        safe_key(key)
        with self._errors(key):
            self._client.delete_object(Bucket=self.bucket, Key=self._full_key(key))

    def exists(self, key: str) -> bool:
        """HEAD the object."""
        safe_key(key)
        try:
            with self._errors(key):
                self._client.head_object(Bucket=self.bucket, Key=self._full_key(key))
        except ObjectNotFoundError:
            return False
        return True


class _ObjectReader(io.BufferedReader):
    """A buffered stream over an object that knows the object's size (``size_bytes``).

    A run reads the size to decide whether the file is small (outputs in memory, one PUT each).
    """

    def __init__(self, raw: _ObjectStream, size_bytes: int | None):
        super().__init__(raw, buffer_size=_READ_CHUNK)
        self.size_bytes = size_bytes


class _ObjectStream(io.RawIOBase):
    """A raw stream over a botocore StreamingBody whose read errors are translated too.

    A connection can drop in the middle of a large object; callers should then see the
    package's StorageUnavailableError (retried), not a botocore exception.
    """

    def __init__(self, body, storage: S3Storage, key: str):
        super().__init__()
        self._body = body
        self._storage = storage
        self._key = key

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        with self._storage._errors(self._key):
            data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readall(self) -> bytes:
        # One call instead of RawIOBase's 8 KiB loop; botocore also checks the length.
        with self._storage._errors(self._key):
            return self._body.read()

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


def _client_error_code(exc: BaseException | None) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def _is_safe_key(key: str) -> bool:
    try:
        safe_key(key)
    except UnsafeKeyError:
        return False
    return True
