"""Writer -> reader round trips of arbitrary text, per format (hypothesis)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from timesheet_batch.formats import RECORD_NUMBER, get_reader, get_writer
from timesheet_batch.vendors.profile import ColumnSpec, FormatOptions

COLUMNS = ["ID", "NAME"]
SPECIAL = st.sampled_from([",", ";", '"', "'", "\n", "<", ">", "&", "{", "}", "[", "]", "\\", "é", "€", "𝄞"])
PRINTABLE = st.characters(exclude_categories=("Cs", "Cc", "Cn", "Co"))
TEXT = st.text(alphabet=PRINTABLE | SPECIAL, max_size=12)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def round_trip(options: FormatOptions, values: list[tuple[str | None, str | None]]) -> list[tuple]:
    table = pa.table(
        {"ID": [v[0] for v in values], "NAME": [v[1] for v in values]},
        schema=pa.schema([("ID", pa.string()), ("NAME", pa.string())]),
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "file"
        with get_writer(options.format).open(path, options, COLUMNS) as session:
            session.write(table)
        with open(path, "rb") as stream:
            tables = list(get_reader(options.format).read_chunks(stream, options, 3))
    got = [row for t in tables for row in t.to_pylist()]
    assert [row[RECORD_NUMBER] for row in got] == sorted(row[RECORD_NUMBER] for row in got)
    return [(row.get("ID"), row.get("NAME")) for row in got]


@SETTINGS
@given(st.lists(st.tuples(TEXT, TEXT), max_size=8))
def test_json_and_ndjson_keep_any_text_and_nulls(values):
    values = [(a, None if b == "" else b) for a, b in values]
    for fmt in ("json", "ndjson"):
        assert round_trip(FormatOptions(format=fmt), values) == values


@SETTINGS
@given(st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=8))
def test_csv_keeps_delimiters_quotes_and_line_breaks(values):
    # The writer neutralises cells a spreadsheet would run (=, +, -, @): leave those out here.
    values = [tuple(v if not v[:1] or v[0] not in "=+-@" else "x" + v for v in row) for row in values]
    for delimiter in (",", ";"):
        assert round_trip(FormatOptions(format="csv", delimiter=delimiter), values) == values


@SETTINGS
@given(st.lists(st.tuples(TEXT, TEXT), max_size=8))
def test_xml_keeps_markup_characters(values):
    # XML normalises a CR to a line feed and cannot tell an empty element from a missing one.
    values = [tuple(None if v == "" else v for v in row) for row in values]
    options = FormatOptions(format="xml", record_path="timesheets/entry")
    assert round_trip(options, values) == values


@SETTINGS
@given(st.lists(st.tuples(TEXT, TEXT), max_size=8))
def test_fixed_width_keeps_text_that_fits(values):
    # Padding is removed on reading and line breaks cannot be carried: keep what fits.
    def fit(value: str, width: int) -> str:
        return value.replace("\n", " ")[:width].rstrip(" ")

    values = [(fit(a, 6), fit(b, 9)) for a, b in values]
    if values and values[0][0].startswith("\ufeff"):
        values[0] = ("x" + values[0][0][1:], values[0][1])  # a BOM at the start of a file is dropped
    columns = (ColumnSpec(name="ID", start=0, width=6), ColumnSpec(name="NAME", start=8, width=9))
    options = FormatOptions(format="fixed_width", columns=columns)
    got = round_trip(options, values)
    # A line of only spaces is blank and skipped; every other record comes back exactly.
    assert got == [row for row in values if (row[0] + row[1]).strip()]
