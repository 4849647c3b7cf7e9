"""The one storage interface; backends live one per module (``local``, ``s3``)."""

from __future__ import annotations

import abc
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO


@dataclass(frozen=True)
class ObjectInfo:
    """One stored object: its key, size in bytes and a change marker (etag or mtime)."""

    key: str
    size_bytes: int
    fingerprint: str


class Storage(abc.ABC):
    """Keys are POSIX-style paths relative to the storage root (see ``layout``).

    Writes are atomic: a reader sees either no object or the whole object, never part of it.
    Every method validates its key with ``layout.safe_key``.
    """

    url: str

    @abc.abstractmethod
    def check(self) -> None:
        """Raise ConfigurationError if the root/bucket does not exist, StorageUnavailableError if unreachable."""

    @abc.abstractmethod
    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, sorted by key."""

    @abc.abstractmethod
    def open_read(self, key: str) -> BinaryIO:
        """A binary stream over the object (caller closes it); ObjectNotFoundError if absent."""

    @abc.abstractmethod
    def publish_file(self, local_path: Path, key: str) -> None:
        """Store a finished local file at ``key`` atomically, replacing any previous object.

        The file is handed over: the caller may delete it afterwards but must not write to it
        again (the local backend publishes a hard link to it where it can, not a copy).
        """

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; no error if it is absent."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""

    def read_bytes(self, key: str) -> bytes:
        with self.open_read(key) as stream:
            return stream.read()

    def write_objects(self, objects: Sequence[tuple[str, bytes | memoryview]]) -> None:
        """Store several ``(key, data)`` objects, each atomically (the set is not atomic)."""
        for key, data in objects:
            self.write_bytes(key, data)

    def write_bytes(self, key: str, data: bytes | memoryview) -> None:
        """Store data held in memory atomically (summaries, reports, a small file's outputs)."""
        with tempfile.NamedTemporaryFile(prefix="timesheet-", delete=False) as tmp:
            tmp.write(data)
            tmp_path = Path(tmp.name)
        try:
            self.publish_file(tmp_path, key)
        finally:
            tmp_path.unlink(missing_ok=True)
