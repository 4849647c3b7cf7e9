"""XML writer streamed with ``lxml.etree.xmlfile``.

``record_path`` ``"timesheets/entry"`` gives a root ``<timesheets>`` holding one ``<entry>``
per record, with one child element per column (a null cell is left out). Deeper paths nest
the outer parts (``a/b/entry``). Escaping is lxml's; control characters XML 1.0 forbids are
replaced by a space so one bad cell cannot abort the export, and characters the encoding
lacks become character references.
"""

from __future__ import annotations

import codecs
from contextlib import ExitStack
from pathlib import Path

import pyarrow as pa
from lxml import etree

from timesheet_batch.errors import ConfigurationError
from timesheet_batch.formats.base import WriterSession, strip_control_chars
from timesheet_batch.vendors.profile import FormatOptions


def _check_names(names: list[str]) -> None:
    for name in names:
        try:
            etree.Element(name)
        except ValueError:
            raise ConfigurationError(f"{name!r} is not a valid XML element name") from None


class _XmlSession(WriterSession):
    def _open(self) -> None:
        path_parts = (self.options.record_path or "records/record").strip("/").split("/")
        if len(path_parts) < 2:
            raise ConfigurationError("xml record_path needs a root and a record element")
        _check_names(path_parts + self.columns)
        self._record_tag = path_parts[-1]
        self._stack = ExitStack()
        self._xf = self._stack.enter_context(
            # libxml2 knows Python's canonical codec names ("iso8859-1"), not every alias.
            etree.xmlfile(str(self.path), encoding=codecs.lookup(self.options.encoding).name)
        )
        self._xf.write_declaration()
        for tag in path_parts[:-1]:
            self._stack.enter_context(self._xf.element(tag))

    def _write_table(self, table: pa.Table) -> None:
        columns = [strip_control_chars(column).to_pylist() for column in table.columns]
        names = self.columns
        element, sub = etree.Element, etree.SubElement
        for values in zip(*columns, strict=True):
            record = element(self._record_tag)
            for name, value in zip(names, values, strict=True):
                if value is not None:
                    sub(record, name).text = value
            self._xf.write(record)

    def _release(self) -> None:
        # Closing the stack writes the closing tags and closes the file.
        self._stack.close()


class XmlWriter:
    """Writes ``<root><record><FIELD>value</FIELD>...</record>...</root>``."""

    name = "xml"
    extension = ".xml"

    def open(self, path: Path, options: FormatOptions, columns: list[str]) -> WriterSession:
        """Start writing ``path`` (the root element opens now, closes on close)."""
        return _XmlSession(path, options, columns)
