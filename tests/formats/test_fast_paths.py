"""The vectorised readers (pyarrow.json, numpy) against the Python paths they must equal exactly."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.formats.streams import Chunked
from timesheet_batch.errors import UnreadableFileError
from timesheet_batch.formats import (
    RECORD_NUMBER,
    arrow_json,
    fixed_width_format,
    get_reader,
    json_format,
    ndjson_format,
    text_io,
)
from timesheet_batch.vendors.profile import ColumnSpec, FormatOptions

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NASTY = st.sampled_from(['"', "\\", "}", "{", ",", "[", "]", "},{", '"},{"', "\\\\", "\n", "é", "𝄞", " ", "null"])
TEXT = st.lists(st.characters(exclude_categories=("Cs",)) | NASTY, max_size=6).map("".join)
VALUE = st.one_of(
    TEXT, st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), st.just("2026-11-06")
)
RECORD = st.dictionaries(st.sampled_from(["ID", "NAME", "é", "a b", "X"]), VALUE, max_size=4)
STYLE = st.sampled_from(["compact", "spaced", "indent", "crlf"])


@pytest.fixture(autouse=True, scope="module")
def _fast_path_for_small_inputs():
    """These tests are about the fast path: take it whatever the number of objects."""
    saved, arrow_json.MIN_OBJECTS = arrow_json.MIN_OBJECTS, 0
    yield
    arrow_json.MIN_OBJECTS = saved


def read_all(fmt: str, data: bytes, options: FormatOptions, chunk_size: int, size: int = 1 << 20) -> list[pa.Table]:
    return list(get_reader(fmt).read_chunks(Chunked(data, size), options, chunk_size))


def as_rows(tables: list[pa.Table]) -> list[tuple[list[str], list[dict]]]:
    return [(t.column_names, t.to_pylist()) for t in tables]


def dump_array(records: list[dict], style: str) -> str:
    if style == "compact":
        return json.dumps(records, ensure_ascii=False, separators=(",", ":"))
    if style == "spaced":
        return "[" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "]\n"
    text = json.dumps(records, ensure_ascii=False, indent=2)
    return text.replace("\n", "\r\n") if style == "crlf" else text


def python_json(text: str, chunk_size: int) -> list[pa.Table]:
    """The reader before the fast path: Python's scanner over the whole text."""
    return list(json_format._python_chunks(iter([text]), 0, {}, chunk_size))


@SETTINGS
@given(st.lists(RECORD, max_size=9), STYLE, st.integers(1, 4), st.sampled_from([3, 64, 1 << 20]))
def test_json_array_equals_the_python_path(records, style, chunk_size, block):
    text = dump_array(records, style)
    got = read_all("json", text.encode(), FormatOptions(format="json"), chunk_size, block)
    assert as_rows(got) == as_rows(python_json(text, chunk_size))


def python_ndjson(text: str, chunk_size: int) -> list[pa.Table]:
    """The reader before the fast path: line blocks parsed by Python's json."""
    known: dict[str, None] = {}
    tables = []
    for lines, first in text_io.line_blocks(io.BytesIO(text.encode()), "utf-8", chunk_size):
        objects, numbers = ndjson_format._parse_lines(lines, first)
        if objects:
            tables.append(text_io.records_to_table(objects, known, numbers))
    return tables


BLANK = st.sampled_from(["", "  ", "\t", "\r", " \x0c "])


@SETTINGS
@given(
    st.lists(st.one_of(RECORD.map(lambda r: json.dumps(r, ensure_ascii=False)), BLANK), max_size=9),
    st.sampled_from(["\n", "\r\n"]),
    st.integers(1, 4),
    st.sampled_from([5, 1 << 20]),
)
def test_ndjson_equals_the_python_path(lines, newline, chunk_size, block):
    text = newline.join(lines)
    try:
        expected = as_rows(python_ndjson(text, chunk_size))
    except UnreadableFileError as exc:
        with pytest.raises(UnreadableFileError) as info:
            read_all("ndjson", text.encode(), FormatOptions(format="ndjson"), chunk_size, block)
        assert str(info.value) == str(exc)
        return
    got = read_all("ndjson", text.encode(), FormatOptions(format="ndjson"), chunk_size, block)
    assert as_rows(got) == expected


def test_the_fast_paths_are_taken(monkeypatch):
    calls = []
    real = json_format.parse_objects

    def spy(data, strings):
        table = real(data, strings)
        calls.append(table is not None)
        return table

    monkeypatch.setattr(json_format, "parse_objects", spy)
    monkeypatch.setattr(ndjson_format, "parse_objects", spy)
    records = [{"ID": str(i), "D": "2026-11-06", "N": i, "B": i % 2 == 0, "Z": None} for i in range(10)]
    tables = read_all("json", dump_array(records, "indent").encode(), FormatOptions(format="json"), 4)
    ndjson = "\n".join(json.dumps(r) for r in records).encode()
    tables += read_all("ndjson", ndjson, FormatOptions(format="ndjson"), 4)
    assert calls == [True] * 6
    assert tables[0].to_pylist()[1] == {"ID": "1", "D": "2026-11-06", "N": "1", "B": "false", "Z": None,
                                        RECORD_NUMBER: 2}


@pytest.mark.parametrize(
    "text",
    [
        '[{"a": "x"} , {"a": 8.50}]',  # a float: its text is kept, in Python
        '[{"a": -0}, {"a": 1}]',
        '[{"a": "1", "a": "2"}]',  # the last duplicate wins
        '[{"a": {"b": [1, {"c": 2}]}}, {"a": [{"x": 1},{"y": 2}]}]',  # nested, with "},{" inside
        '[{"a": NaN}]',
        '[{"a": "\\ud83d\\ude00 \\u00e9"}]',
        '\ufeff [ ]',
    ],
)
def test_json_cases_pyarrow_cannot_take_are_read_by_python(text):
    got = read_all("json", text.encode(), FormatOptions(format="json"), 1)
    assert as_rows(got) == as_rows(python_json(text.removeprefix("\ufeff"), 1))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{"a": "},{"} {"b": "1"}]', "expected ',' or ']'"),  # a separator inside a string, a comma missing
        ('[null, {"a": "1"}]', "element 1 of the array is not an object"),  # pyarrow would crash on it
        ('[{"a": "1"}, null]', "element 2 of the array is not an object"),
        ('[{"a": "1"} null]', "expected ',' or ']'"),
        ('[{"a": "1"},]', "not valid JSON at record 2"),
        ('[{"a": "1"},,{"a": "2"}]', "not valid JSON at record 2"),
        ('[{"a": "1"}] ]', "after the end"),
        ('[{"a": "1"}, {"a": "2"}', "truncated after record 2"),
        ('[{"a": "1"}, {"a": "2}]', "not valid JSON at record 2"),
        ('{"a": "1"}', "not a JSON array"),
        ('[{"a": "1"}\n, 5]', "element 2 of the array is not an object"),
    ],
)
def test_broken_json_fails_with_the_python_message(text, message):
    for chunk_size in (1, 2, 10):
        with pytest.raises(UnreadableFileError, match=message.replace("[", r"\[").replace("]", r"\]")):
            read_all("json", text.encode(), FormatOptions(format="json"), chunk_size)


def test_json_chunks_before_an_error_are_yielded():
    text = '[{"a": "1"}, {"a": "2"}, {"a": "3"}, x]'
    reader = get_reader("json").read_chunks(io.BytesIO(text.encode()), FormatOptions(format="json"), 2)
    assert next(reader).column("a").to_pylist() == ["1", "2"]
    with pytest.raises(UnreadableFileError, match="record 4"):
        next(reader)


def test_json_in_another_encoding_and_escapes_across_blocks(monkeypatch):
    monkeypatch.setattr(text_io, "BLOCK_BYTES", 3)
    records = [{"NAME": 'Nuñez \\"},{\\" ' + "\\" * i, "ID": str(i)} for i in range(7)]
    text = dump_array(records, "spaced")
    for encoding in ("utf-8", "latin-1", "utf-16"):
        got = read_all("json", text.encode(encoding), FormatOptions(format="json", encoding=encoding), 3)
        assert as_rows(got) == as_rows(python_json(text, 3))


def test_utf8_blocks_checks_like_decoded_blocks():
    def blocks(data: bytes, size: int) -> bytes:
        return b"".join(text_io.utf8_blocks(Chunked(data, size), "utf-8"))

    assert blocks("\ufeffé€".encode(), 1) == "é€".encode()
    for bad in (b"ab\xc3", b"a\xc3b", b"\xff", "é".encode()[:1] + b"x" * 10):
        for size in (1, 2, 1024):
            with pytest.raises(UnreadableFileError, match="utf-8"):
                blocks(bad, size)
    with pytest.raises(UnreadableFileError, match="NUL"):
        blocks(b"a\x00b", 1024)


@SETTINGS
@given(
    st.lists(st.text(alphabet=st.sampled_from("ab é€𝄞\t\r"), max_size=14), max_size=8),
    st.sampled_from(["\n", "\r\n"]),
    st.sampled_from(["utf-8", "latin-1", "utf-16"]),
    st.integers(1, 4),
    st.sampled_from([1, 7, 1 << 20]),
)
def test_line_chunks_equal_line_blocks(lines, newline, encoding, chunk_size, size):
    text = newline.join(lines)
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        return
    expected = list(text_io.line_blocks(io.BytesIO(data), encoding, chunk_size))
    chunks = list(text_io.line_chunks(Chunked(data, size), encoding, chunk_size))
    assert [(c.lines(), c.first_number) for c in chunks] == expected
    assert [text_io.lines_array(c).to_pylist() for c in chunks] == [lines for lines, _ in expected]
    fixed = FormatOptions(format="fixed_width", encoding=encoding, columns=(
        ColumnSpec(name="A", start=0, width=2), ColumnSpec(name="B", start=3, width=9)))
    got = read_all("fixed_width", data, fixed, chunk_size, size)
    parse = fixed_width_format.parse_fixed_width
    want = [parse(pa.array(block, pa.string()), first, fixed) for block, first in expected]
    assert as_rows(got) == as_rows([table for table in want if table is not None])


def test_small_inputs_are_left_to_python(monkeypatch):
    monkeypatch.setattr(arrow_json, "MIN_OBJECTS", 5)
    calls = []
    monkeypatch.setattr(json_format, "parse_objects", lambda *a: calls.append(a))
    monkeypatch.setattr(ndjson_format, "parse_objects", lambda *a: calls.append(a))
    records = [{"ID": str(i), "D": "2026-11-06"} for i in range(4)]
    text = dump_array(records, "indent")
    assert as_rows(read_all("json", text.encode(), FormatOptions(format="json"), 10)) == as_rows(
        python_json(text, 10))
    ndjson = "\n".join(json.dumps(r) for r in records)
    assert as_rows(read_all("ndjson", ndjson.encode(), FormatOptions(format="ndjson"), 10)) == as_rows(
        python_ndjson(ndjson, 10))
    assert calls == []
