"""The writers of every format, and the reader/writer registries."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from lxml import etree

from timesheet_batch.errors import ConfigurationError, UnreadableFileError
from timesheet_batch.formats import READERS, WRITERS, get_reader, get_writer
from timesheet_batch.vendors.profile import ColumnSpec, FormatOptions

TABLE = pa.table({"ID": ["1", "2", None], "NAME": ['Ana <&> "B"', "Nuñez", "x\ny"]})
COLUMNS = ["ID", "NAME"]


def write(path: Path, options: FormatOptions, tables=(TABLE,), columns=COLUMNS) -> bytes:
    with get_writer(options.format).open(path, options, list(columns)) as session:
        for table in tables:
            session.write(table)
    return path.read_bytes()


def test_registries():
    assert set(WRITERS) == {"csv", "json", "ndjson", "xml", "fixed_width"}
    assert "csv" in READERS and get_reader("csv").name == "csv"
    assert {w.extension for w in WRITERS.values()} == {".csv", ".json", ".ndjson", ".xml", ".txt"}
    with pytest.raises(ConfigurationError):
        get_writer("yaml")
    with pytest.raises(UnreadableFileError):
        get_reader("yaml")


def test_json_is_one_array_streamed_over_chunks(tmp_path: Path):
    data = write(tmp_path / "o.json", FormatOptions(format="json"), (TABLE, TABLE.slice(0, 1)))
    records = json.loads(data)
    assert len(records) == 4
    assert records[0] == {"ID": "1", "NAME": 'Ana <&> "B"'}
    assert records[2] == {"ID": None, "NAME": "x\ny"}


def test_json_empty_is_an_empty_array(tmp_path: Path):
    assert json.loads(write(tmp_path / "e.json", FormatOptions(format="json"), ())) == []


def test_ndjson_one_object_per_line_in_encoding(tmp_path: Path):
    data = write(tmp_path / "o.ndjson", FormatOptions(format="ndjson", encoding="latin-1"))
    lines = data.decode("latin-1").splitlines()
    assert [json.loads(line)["NAME"] for line in lines] == ['Ana <&> "B"', "Nuñez", "x\ny"]


def test_xml_record_path_escaping_and_nulls(tmp_path: Path):
    options = FormatOptions(format="xml", record_path="timesheets/entry", encoding="latin-1")
    data = write(tmp_path / "o.xml", options, (TABLE.slice(0, 2), TABLE.slice(2)))
    assert b"encoding='iso8859-1'" in data
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    assert root.tag == "timesheets"
    entries = root.findall("entry")
    assert len(entries) == 3
    assert entries[0].findtext("NAME") == 'Ana <&> "B"'
    assert entries[1].findtext("NAME") == "Nuñez"
    assert entries[2].find("ID") is None  # null cells are left out


def test_xml_control_characters_do_not_break_the_file(tmp_path: Path):
    options = FormatOptions(format="xml", record_path="a/b/r")
    data = write(tmp_path / "c.xml", options, (pa.table({"ID": ["a\x01b"], "NAME": ["n"]}),))
    root = etree.fromstring(data)
    assert root.tag == "a" and root[0].tag == "b" and root[0][0].findtext("ID") == "a b"


def test_xml_bad_element_name_is_configuration_error(tmp_path: Path):
    with pytest.raises(ConfigurationError):
        write(tmp_path / "x.xml", FormatOptions(format="xml", record_path="a/b"), columns=["1bad"])


def test_fixed_width_pads_truncates_and_orders_by_start(tmp_path: Path):
    options = FormatOptions(
        format="fixed_width",
        columns=(
            ColumnSpec(name="NAME", start=4, width=5),
            ColumnSpec(name="ID", start=0, width=2),
        ),
    )
    lines = write(tmp_path / "o.txt", options).decode().split("\n")
    assert lines[:3] == ["1   Ana <", "2   Nuñez", "    x y  "]
    assert all(len(line) == 9 for line in lines[:3]) and lines[3] == ""


@pytest.mark.parametrize(
    "options",
    [
        FormatOptions(format="csv"),
        FormatOptions(format="json"),
        FormatOptions(format="ndjson", encoding="latin-1"),
        FormatOptions(format="xml", record_path="a/b"),
        FormatOptions(format="fixed_width", columns=(ColumnSpec(name="ID", start=0, width=2),)),
    ],
    ids=lambda options: options.format,
)
def test_a_stream_target_gets_the_same_bytes_and_stays_open(tmp_path: Path, options: FormatOptions):
    # Small outputs are written into memory buffers (pipeline/run_outputs.py).
    stream = pa.BufferOutputStream()
    with get_writer(options.format).open(stream, options, COLUMNS) as session:
        session.write(TABLE)
        session.write(TABLE)
    assert not stream.closed
    expected = write(tmp_path / f"o{get_writer(options.format).extension}", options, tables=(TABLE, TABLE))
    assert stream.getvalue().to_pybytes() == expected
