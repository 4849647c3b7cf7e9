"""What a reader and a writer look like, and the shared writer session plumbing.

A *reader* turns a binary stream into chunks (``pyarrow.Table``) of string columns named by
the vendor's field names plus an int64 ``__record_number`` column. A *writer* opens a
:class:`WriterSession` on a local path (or a binary stream) and is fed tables of string columns. Readers and
writers are stateless singletons registered by format name in :mod:`timesheet_batch.formats`.
"""

from __future__ import annotations

import abc
import codecs
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from timesheet_batch.vendors.profile import FormatOptions

#: Name of the column every reader adds: the record's 1-based position (see each reader).
RECORD_NUMBER = "__record_number"

#: Characters that cannot appear in a text output cell without breaking it.
_CONTROL_CHARS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"


class Reader(Protocol):
    """Streams one file format into chunks of string columns."""

    name: str

    def read_chunks(
        self, stream: BinaryIO, options: FormatOptions, chunk_size: int
    ) -> Iterator[pa.Table]:
        """Yield tables of at most ``chunk_size`` rows (string columns + ``__record_number``)."""
        ...


#: Where a writer session writes: a local path, or a binary stream the caller keeps.
WriteTarget = Path | str | BinaryIO


class Writer(Protocol):
    """Opens a session that writes one file format."""

    name: str
    extension: str

    def open(self, path: WriteTarget, options: FormatOptions, columns: list[str]) -> WriterSession:
        """Start writing ``path`` (or a binary stream); the session is a context manager."""
        ...


class WriterSession(abc.ABC):
    """One output file being written; use as a context manager, feed it with :meth:`write`.

    Text is encoded with ``options.encoding``; characters the encoding cannot represent are
    replaced by ``?`` (XML uses character references instead) so one exotic name cannot fail a
    whole export. Columns are written in the order given to ``open``; a column the table lacks
    is written empty.
    """

    def __init__(self, path: WriteTarget, options: FormatOptions, columns: list[str]):
        # A stream (e.g. the in-memory buffer of a small output) is written to, never closed.
        self.stream: BinaryIO | None = None if isinstance(path, str | Path) else path
        self.path = None if self.stream is not None else Path(path)
        self.options = options
        self.columns = list(columns)
        self.rows_written = 0
        self._closed = False
        self._open()

    def _open(self) -> None:
        # A file this session opens is closed in _release(); a stream of the caller's stays open.
        self._file = self.stream if self.stream is not None else open(self.path, "wb")  # noqa: SIM115
        self._encoding = codecs.lookup(self.options.encoding).name

    def write(self, table: pa.Table) -> None:
        """Write every row of ``table`` (extra columns are ignored)."""
        if self._closed:
            raise ValueError("write() on a closed writer session")
        self._write_table(select_string_columns(table, self.columns))
        self.rows_written += table.num_rows

    def close(self) -> None:
        """Finish the file (footer, closing tags) and close it; idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._finish()
        finally:
            self._release()

    def _release(self) -> None:
        """Close the underlying file handle (a stream given by the caller stays open)."""
        if self.stream is None:
            self._file.close()

    def _emit(self, text: str) -> None:
        self._file.write(text.encode(self._encoding, errors="replace"))

    @abc.abstractmethod
    def _write_table(self, table: pa.Table) -> None:
        """Write a table whose columns are exactly ``self.columns``, all strings."""

    def _finish(self) -> None:  # noqa: B027 - optional hook, most formats have no footer
        """Write what ends the file; nothing by default."""

    def __enter__(self) -> WriterSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            # Do not write a footer for a file that failed half way; just release the handle.
            self._closed = True
            self._release()


def select_string_columns(table: pa.Table, columns: list[str]) -> pa.Table:
    """``table`` reduced to ``columns`` in order, every column cast to string."""
    arrays = []
    for name in columns:
        if name in table.column_names:
            column = table.column(name)
            if not pa.types.is_string(column.type):
                column = pc.cast(column, pa.string())
            arrays.append(column)
        else:
            arrays.append(pa.nulls(table.num_rows, pa.string()))
    return pa.Table.from_arrays(arrays, names=columns)


def strip_control_chars(
    column: pa.ChunkedArray | pa.Array, *, line_breaks: bool = False
) -> pa.Array:
    """Replace by a space the control characters XML cannot carry (and line breaks if asked)."""
    pattern = r"[\x00-\x1f\x7f]" if line_breaks else _CONTROL_CHARS
    return pc.replace_substring_regex(column, pattern, " ")
