"""Streams for reader tests."""

from __future__ import annotations

import io


class Chunked(io.RawIOBase):
    """A stream that returns at most ``size`` bytes per read (block and character splits)."""

    def __init__(self, data: bytes, size: int):
        self._data, self._size = memoryview(data), size

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        part, self._data = self._data[: self._size], self._data[self._size :]
        return bytes(part)
