"""The streaming readers: shapes, record numbers, hostile and broken files."""

from __future__ import annotations

import io
import time

import pyarrow as pa
import pytest

from timesheet_batch.errors import UnreadableFileError
from timesheet_batch.formats import READERS, RECORD_NUMBER, get_reader
from timesheet_batch.vendors.profile import ColumnSpec, FormatOptions

XML = FormatOptions(format="xml", record_path="timesheets/entry")
FIXED = FormatOptions(
    format="fixed_width",
    columns=(ColumnSpec(name="ID", start=0, width=4), ColumnSpec(name="NAME", start=4, width=6)),
)
OPTIONS = {
    "csv": FormatOptions(format="csv"),
    "json": FormatOptions(format="json"),
    "ndjson": FormatOptions(format="ndjson"),
    "xml": XML,
    "fixed_width": FIXED,
}


def read(data: bytes, options: FormatOptions, chunk_size: int = 2) -> list[pa.Table]:
    return list(get_reader(options.format).read_chunks(io.BytesIO(data), options, chunk_size))


def rows(tables: list[pa.Table]) -> list[dict]:
    return [row for table in tables for row in table.to_pylist()]


def test_every_format_has_a_reader():
    assert set(READERS) == {"csv", "json", "ndjson", "xml", "fixed_width"}


def test_json_array_streamed_in_chunks_with_text_values():
    data = b'[{"ID": "1", "H": 8.50, "N": 7, "B": true},\n {"ID": "2", "X": null},\n {"ID": "3"}]'
    tables = read(data, OPTIONS["json"])
    assert [t.num_rows for t in tables] == [2, 1]
    assert tables[-1].column_names == ["ID", "H", "N", "B", "X", RECORD_NUMBER]
    assert rows(tables)[0] == {"ID": "1", "H": "8.50", "N": "7", "B": "true", "X": None, RECORD_NUMBER: 1}
    assert [r[RECORD_NUMBER] for r in rows(tables)] == [1, 2, 3]
    assert all(pa.types.is_string(t.schema.field("H").type) for t in tables)


def test_json_object_split_across_read_blocks(monkeypatch):
    from timesheet_batch.formats import text_io

    monkeypatch.setattr(text_io, "BLOCK_BYTES", 7)
    data = '[{"ID": "1", "NAME": "Nuñez, \\"J\\""}, {"ID": "22", "NAME": "x"}]'.encode()
    assert [r["NAME"] for r in rows(read(data, OPTIONS["json"]))] == ['Nuñez, "J"', "x"]


def test_ndjson_line_numbers_skip_blank_lines():
    data = b'{"ID": "1"}\n\n{"ID": "2", "N": 3}\r\n{"ID": "3"}'
    got = rows(read(data, OPTIONS["ndjson"], chunk_size=10))
    assert [(r["ID"], r["N"], r[RECORD_NUMBER]) for r in got] == [("1", None, 1), ("2", "3", 3), ("3", None, 4)]


def test_xml_namespaces_attributes_and_local_names():
    data = b"""<?xml version="1.0"?>
<t:timesheets xmlns:t="urn:t" xmlns:x="urn:x">
  <t:entry kind="a"><x:ID>1</x:ID><NAME>Ana &amp; B</NAME><!-- c --></t:entry>
  <t:entry><ID>2</ID><NAME><b>Jo</b>hn</NAME></t:entry>
  <other><entry><ID>not a record</ID></entry></other>
</t:timesheets>"""
    got = rows(read(data, XML))
    assert got == [
        {"kind": "a", "ID": "1", "NAME": "Ana & B", RECORD_NUMBER: 1},
        {"kind": None, "ID": "2", "NAME": "John", RECORD_NUMBER: 2},
    ]


def test_xml_after_more_white_space_than_one_read_block_is_read():
    # Found by the fuzz run: the reader used to look at the first 64 KiB only and, finding white
    # space, returned zero records for a well-formed file.
    data = b" \n" * 40_000 + b"<timesheets><entry><ID>1</ID></entry><entry><ID>2</ID></entry></timesheets>"
    assert [r["ID"] for r in rows(read(data, XML))] == ["1", "2"]
    assert read(b" \n\t" * 50_000, XML) == []


def test_fixed_width_counts_characters_and_lines():
    data = "1   Nuñez \n\n22  Ana   \r\n3\n".encode("latin-1")
    options = FIXED.model_copy(update={"encoding": "latin-1"})
    got = rows(read(data, options, chunk_size=10))
    assert got == [
        {"ID": "1", "NAME": "Nuñez", RECORD_NUMBER: 1},
        {"ID": "22", "NAME": "Ana", RECORD_NUMBER: 3},
        {"ID": "3", "NAME": "", RECORD_NUMBER: 4},
    ]


@pytest.mark.parametrize(
    ("fmt", "data"),
    [
        ("csv", b""),
        ("csv", b"ID,NAME\n"),
        ("json", b""),
        ("json", b" [ ]\n"),
        ("ndjson", b""),
        ("ndjson", b"\n\n"),
        ("xml", b""),
        ("xml", b"<?xml version='1.0'?><timesheets/>"),
        ("fixed_width", b""),
        ("fixed_width", b"\n  \n"),
    ],
)
def test_empty_or_header_only_is_zero_records(fmt, data):
    assert rows(read(data, OPTIONS[fmt])) == []


SECRET = "S3CR3T-passwd-line"


@pytest.mark.parametrize(
    ("fmt", "data"),
    [
        ("json", b'[{"ID": "1"}, {"ID": "2", "NAME": "S3CR3T-passwd-line'),
        ("json", b'[{"ID": "1"} {"ID": "S3CR3T-passwd-line"}]'),
        ("json", b'[{"ID": "1"}] S3CR3T-passwd-line'),
        ("json", b'{"ID": "S3CR3T-passwd-line"}'),
        ("json", b'["S3CR3T-passwd-line"]'),
        ("ndjson", b'{"ID": "1"}\n{"ID": S3CR3T-passwd-line}\n'),
        ("ndjson", b'{"ID": "1"}\n["S3CR3T-passwd-line"]\n'),
        ("xml", b"<timesheets><entry><ID>S3CR3T-passwd-line</ID></entry><entry><ID>2"),
        ("xml", b"<timesheets><entry><ID>S3CR3T-passwd-line</NAME></entry></timesheets>"),
        ("xml", "<timesheets><entry><ID>S3CR3T-passwd-line\u00f1</ID></entry></timesheets>".encode("latin-1")),
        ("xml", b"<wrong><entry><ID>1</ID></entry></wrong>"),
    ],
)
def test_truncated_or_malformed_is_unreadable_without_data(fmt, data):
    with pytest.raises(UnreadableFileError) as info:
        read(data, OPTIONS[fmt])
    assert SECRET not in str(info.value) and "\u00f1" not in str(info.value)


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson", "xml", "fixed_width"])
def test_binary_junk_is_unreadable(fmt):
    with pytest.raises(UnreadableFileError):
        read(bytes(range(256)) * 40, OPTIONS[fmt])


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson", "fixed_width"])
def test_wrong_encoding_is_unreadable(fmt):
    text = {
        "csv": "ID,NAME\n1,Nuñez\n",
        "json": '[{"ID": "1", "NAME": "Nuñez"}]',
        "ndjson": '{"ID": "1", "NAME": "Nuñez"}\n',
        "fixed_width": "1   Nuñez\n",
    }[fmt]
    with pytest.raises(UnreadableFileError, match="utf-8") as info:
        read(text.encode("latin-1"), OPTIONS[fmt])
    assert "Nu" not in str(info.value)


def test_xxe_external_entity_is_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    data = f"""<?xml version="1.0"?>
<!DOCTYPE timesheets [<!ENTITY xxe SYSTEM "file://{secret}">]>
<timesheets><entry><ID>1</ID><NAME>&xxe;</NAME></entry></timesheets>""".encode()
    with pytest.raises(UnreadableFileError, match="entities") as info:
        read(data, XML)
    assert SECRET not in str(info.value)


def test_billion_laughs_fails_fast():
    entities = "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 12)
    )
    data = f"""<?xml version="1.0"?>
<!DOCTYPE timesheets [<!ENTITY lol0 "lol">{entities}]>
<timesheets><entry><ID>&lol11;</ID></entry></timesheets>""".encode()
    started = time.perf_counter()
    with pytest.raises(UnreadableFileError):
        read(data, XML)
    assert time.perf_counter() - started < 5  # no expansion, not a timing benchmark


def test_a_plain_doctype_is_accepted():
    data = b"<?xml version='1.0'?><!DOCTYPE timesheets><timesheets><entry><ID>1</ID></entry></timesheets>"
    assert rows(read(data, XML)) == [{"ID": "1", RECORD_NUMBER: 1}]


def test_json_record_over_the_limit_is_unreadable(monkeypatch):
    from timesheet_batch.formats import json_format

    monkeypatch.setattr(json_format, "MAX_RECORD_CHARS", 100)
    data = b'[{"ID": "' + b"x" * 5_000_000 + b'"}]'
    with pytest.raises(UnreadableFileError, match="over 16 MB"):
        read(data, OPTIONS["json"])
