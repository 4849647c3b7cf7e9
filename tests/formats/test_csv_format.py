"""The streaming CSV reader and the formula-safe CSV writer."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from timesheet_batch.errors import UnreadableFileError
from timesheet_batch.formats import RECORD_NUMBER, get_reader, get_writer
from timesheet_batch.formats.csv_format import neutralise_formulas
from timesheet_batch.vendors.profile import FormatOptions

CSV = FormatOptions(format="csv")


def read_all(data: bytes, options: FormatOptions = CSV, chunk_size: int = 1000) -> list[pa.Table]:
    return list(get_reader("csv").read_chunks(io.BytesIO(data), options, chunk_size))


def rows(data: bytes, options: FormatOptions = CSV, chunk_size: int = 1000) -> list[dict]:
    return [row for table in read_all(data, options, chunk_size) for row in table.to_pylist()]


def test_quoted_delimiters_newlines_and_quotes_are_values():
    data = b'A,B,C\n1,"x, y","say ""hi"""\n2,"two\nlines",z\n'
    assert rows(data) == [
        {"A": "1", "B": "x, y", "C": 'say "hi"', RECORD_NUMBER: 2},
        {"A": "2", "B": "two\nlines", "C": "z", RECORD_NUMBER: 3},
    ]


def test_every_column_is_a_string_leading_zeros_kept():
    [table] = read_all(b"ID,N\n007,1.50\n")
    assert table.schema.field("ID").type == pa.string()
    assert table.schema.field(RECORD_NUMBER).type == pa.int64()
    assert table.to_pylist()[0]["ID"] == "007"


def test_utf8_bom_and_crlf():
    data = "\ufeffNAME,CITY\r\nRenée,Zürich\r\nBob,Oslo\r\n".encode()
    assert [r["NAME"] for r in rows(data)] == ["Renée", "Bob"]
    assert [r["CITY"] for r in rows(data)] == ["Zürich", "Oslo"]


def test_latin1_with_semicolons_is_transcoded():
    options = FormatOptions(format="csv", encoding="latin-1", delimiter=";")
    data = "Name;Town\nNuñez;Córdoba\n".encode("latin-1")
    assert rows(data, options) == [{"Name": "Nuñez", "Town": "Córdoba", RECORD_NUMBER: 2}]


def test_chunks_are_resliced_to_chunk_size_and_numbered():
    data = b"A\n" + b"".join(f"{i}\n".encode() for i in range(10))
    tables = read_all(data, chunk_size=3)
    assert [t.num_rows for t in tables] == [3, 3, 3, 1]
    numbers = [n for t in tables for n in t.column(RECORD_NUMBER).to_pylist()]
    assert numbers == list(range(2, 12))


@pytest.mark.parametrize("data", [b"", b"\n\n"])
def test_empty_file_yields_nothing(data):
    assert read_all(data) == []


@pytest.mark.parametrize("data", [b"A,B\n", b"A,B", b"A,B\r\n"])
def test_header_only_yields_its_columns_and_no_record(data):
    """The columns still show, so a header-only file of the wrong shape fails validation."""
    (table,) = read_all(data)
    assert table.num_rows == 0 and table.column_names[:2] == ["A", "B"]


def test_binary_junk_is_unreadable():
    junk = bytes(range(256)) * 8
    with pytest.raises(UnreadableFileError):
        read_all(junk)


def test_latin1_bytes_read_as_utf8_are_unreadable_without_quoting_data():
    data = "ID,NAME\n1,Nuñez-Secret\n".encode("latin-1")
    with pytest.raises(UnreadableFileError) as info:
        read_all(data)
    assert "utf-8" in str(info.value)
    assert "Secret" not in str(info.value)


def test_ragged_row_is_unreadable_and_message_has_no_data():
    data = b"A,B,C\n1,2,3\n4,secret-value\n"
    with pytest.raises(UnreadableFileError) as info:
        read_all(data)
    assert "ragged" in str(info.value)
    assert "secret" not in str(info.value)


def test_repeated_header_names_are_unreadable():
    with pytest.raises(UnreadableFileError):
        read_all(b"A,A\n1,2\n")


def test_writer_neutralises_formula_cells(tmp_path: Path):
    table = pa.table({"V": ["=1+1", "+x", "-2", "@SUM", "\tx", "\rx", "ok", None], "K": ["k"] * 8})
    with get_writer("csv").open(tmp_path / "o.csv", CSV, ["V", "K"]) as session:
        session.write(table)
    values = [r["V"] for r in rows((tmp_path / "o.csv").read_bytes())]
    assert values == ["'=1+1", "'+x", "'-2", "'@SUM", "'\tx", "'\rx", "ok", ""]


def test_writer_header_only_when_empty_and_encoding(tmp_path: Path):
    options = FormatOptions(format="csv", encoding="latin-1", delimiter=";")
    with get_writer("csv").open(tmp_path / "e.csv", options, ["A", "B"]):
        pass
    assert (tmp_path / "e.csv").read_bytes().replace(b'"', b"") == b"A;B\n"
    with get_writer("csv").open(tmp_path / "l.csv", options, ["A", "B"]) as session:
        session.write(pa.table({"A": ["Nuñez"], "B": ["x;y"]}))
    assert rows((tmp_path / "l.csv").read_bytes(), options) == [
        {"A": "Nuñez", "B": "x;y", RECORD_NUMBER: 2}
    ]


cells = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(cells, cells), min_size=1, max_size=20))
def test_writer_reader_round_trip(tmp_path: Path, records):
    table = pa.table({"A": [a for a, _ in records], "B": [b for _, b in records]})
    path = tmp_path / "rt.csv"
    with get_writer("csv").open(path, CSV, ["A", "B"]) as session:
        session.write(table)
    got = rows(path.read_bytes(), chunk_size=7)
    expected_a = neutralise_formulas(table.column("A")).to_pylist()
    expected_b = neutralise_formulas(table.column("B")).to_pylist()
    assert [r["A"] for r in got] == expected_a
    assert [r["B"] for r in got] == expected_b


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.text(alphabet="=+-@\t\rab 1é", max_size=4)), max_size=12),
    st.integers(0, 6),
    st.integers(1, 4),
)
def test_formula_check_skips_only_safe_columns(values, start, parts):
    """The numpy pre-check never lets a risky cell through: same result as the regex alone."""
    array = pa.array(values, pa.string()).slice(start)
    chunked = pa.chunked_array([array.slice(i, 3) for i in range(0, max(len(array), 1), 3)][:parts] or [array])
    for column in (array, chunked):
        expected = [None if v is None else ("'" + v if v[:1] in ("=", "+", "-", "@", "\t", "\r") else v)
                    for v in column.to_pylist()]
        assert neutralise_formulas(column).to_pylist() == expected
