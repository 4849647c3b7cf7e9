"""Readers and writers, one module per file format, in registries keyed by format name.

``get_reader("csv").read_chunks(stream, options, chunk_size)`` streams a vendor file into
string tables; ``get_writer("xml").open(path, options, columns)`` writes one. Only formats
with a reader here can be ingested; every reader streams with bounded memory and yields string
columns named by the vendor's field names plus an int64 ``__record_number`` (see each module
for what the number means in its format).
"""

from __future__ import annotations

from timesheet_batch.errors import ConfigurationError, UnreadableFileError
from timesheet_batch.formats.base import RECORD_NUMBER, Reader, Writer, WriterSession
from timesheet_batch.formats.csv_format import CsvReader, CsvWriter
from timesheet_batch.formats.fixed_width_format import FixedWidthReader, FixedWidthWriter
from timesheet_batch.formats.json_format import JsonReader, JsonWriter
from timesheet_batch.formats.ndjson_format import NdjsonReader, NdjsonWriter
from timesheet_batch.formats.xml_format import XmlReader, XmlWriter

#: Format name -> reader.
READERS: dict[str, Reader] = {
    reader.name: reader
    for reader in (CsvReader(), JsonReader(), NdjsonReader(), XmlReader(), FixedWidthReader())
}

#: Format name -> writer.
WRITERS: dict[str, Writer] = {
    writer.name: writer
    for writer in (CsvWriter(), JsonWriter(), NdjsonWriter(), XmlWriter(), FixedWidthWriter())
}


def get_reader(fmt: str) -> Reader:
    """The reader for ``fmt``; UnreadableFileError if the format cannot be read (yet)."""
    try:
        return READERS[fmt]
    except KeyError:
        raise UnreadableFileError(
            f"no reader for format {fmt!r} (readable: {sorted(READERS)})"
        ) from None


def get_writer(fmt: str) -> Writer:
    """The writer for ``fmt``; ConfigurationError for a format nobody can write."""
    try:
        return WRITERS[fmt]
    except KeyError:
        raise ConfigurationError(
            f"no writer for format {fmt!r} (known: {sorted(WRITERS)})"
        ) from None


__all__ = [
    "READERS",
    "RECORD_NUMBER",
    "WRITERS",
    "Reader",
    "Writer",
    "WriterSession",
    "get_reader",
    "get_writer",
]
