"""The XML scanner (:mod:`timesheet_batch.formats.xml_scan`) against the exact lxml path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.formats.streams import Chunked
from timesheet_batch.errors import UnreadableFileError
from timesheet_batch.formats import get_reader, xml_format, xml_scan
from timesheet_batch.formats.text_io import records_to_table
from timesheet_batch.vendors.profile import FormatOptions

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
XML = FormatOptions(format="xml", record_path="timesheets/entry")


def lxml_path(data: bytes, options: FormatOptions, chunk_size: int, size: int) -> list[pa.Table]:
    """The reader before the scanner: every record through iterparse and a dict."""
    stream = Chunked(data, size)
    first = stream.read(64 * 1024)
    if not first.strip():
        return []
    parts = xml_format._record_parts(options)
    records: list[dict] = []
    known: dict[str, None] = {}
    count = 0
    tables = []

    def table() -> pa.Table:
        start = count - len(records) + 1
        return records_to_table(records, known, np.arange(start, count + 1, dtype=np.int64))

    try:
        for record in xml_format.XmlReader()._records(xml_scan.Joined(first, stream), parts):
            records.append(record)
            count += 1
            if len(records) == chunk_size:
                tables.append(table())
                records = []
    except xml_format.etree.XMLSyntaxError as exc:
        tables.append(UnreadableFileError(xml_format._describe(exc)))
        return tables
    except UnreadableFileError as exc:
        tables.append(exc)
        return tables
    if records:
        tables.append(table())
    return tables


def reader_path(data: bytes, options: FormatOptions, chunk_size: int, size: int) -> list:
    out: list = []
    try:
        for table in get_reader("xml").read_chunks(Chunked(data, size), options, chunk_size):
            out.append(table)
    except UnreadableFileError as exc:
        out.append(exc)
    return out


def outcome(items: list) -> list:
    return [
        ("error", str(item)) if isinstance(item, Exception) else (item.column_names, item.to_pylist())
        for item in items
    ]


def assert_same(data: bytes, chunk_size: int, size: int, options: FormatOptions = XML) -> None:
    assert outcome(reader_path(data, options, chunk_size, size)) == outcome(
        lxml_path(data, options, chunk_size, size)
    )


TEXT = st.lists(
    st.sampled_from(
        ["a", "Nuñez", "€", "𝄞", " ", "\t", "\n", "\r\n", "\r", "&amp;", "&lt;", "&gt;", "&quot;", "&apos;",
         "&#233;", "&#x1D11E;", "&#13;", ">", "'", '"', "]]", "x y", "&#0;", "&bogus;", "\x01"]
    ),
    max_size=4,
).map("".join)
NAME = st.sampled_from(["ID", "NAME", "Hours", "_x", "a.b-c", "é", "x:ID", "entry", "entry2"])
FIELD = st.one_of(
    st.tuples(NAME, TEXT).map(lambda p: f"<{p[0]}>{p[1]}</{p[0]}>"),
    NAME.map(lambda n: f"<{n}/>"),
    NAME.map(lambda n: f"<{n}></{n}>"),
    st.tuples(NAME, TEXT).map(lambda p: f"<{p[0]}><![CDATA[{p[1]}<&]]></{p[0]}>"),
    st.tuples(NAME, TEXT).map(lambda p: f"<{p[0]}>{p[1]}<!-- c -->z</{p[0]}>"),
    st.tuples(NAME, TEXT).map(lambda p: f"<{p[0]}><b>{p[1]}</b>t</{p[0]}>"),
    st.tuples(NAME, TEXT).map(lambda p: f'<{p[0]} k="v">{p[1]}</{p[0]}>'),
    st.just("<!-- c -->"),
    st.just("<?pi x?>"),
)
GAP = st.sampled_from(["", " ", "\n", "\r\n", "\n  ", "\t"])
RECORD = st.tuples(
    st.sampled_from(["<entry>", "<entry>", "<entry>", '<entry kind="a">', "<t:entry>", "<entry xmlns='urn:x'>"]),
    st.lists(st.tuples(GAP, FIELD), max_size=5),
    GAP,
).map(lambda r: r[0] + "".join(g + f for g, f in r[1]) + r[2] + ("</t:entry>" if r[0] == "<t:entry>" else "</entry>"))
BETWEEN = st.sampled_from(["", "\n", " \n ", "\r\n"] * 4 + ["<!-- c -->", "<other><entry><ID>n</ID></entry></other>",
                                                           "text", "<entry/>", "<?pi?>"])
PROLOG = st.sampled_from([
    "", "<?xml version='1.0' encoding='utf-8'?>\n", '<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-8" '
    'standalone="yes"?>\r\n', "<?xml version='1.0' encoding='latin-1'?>", "<!DOCTYPE timesheets>", "<!-- c -->\n",
    "\ufeff", "  \n",
])
ROOT = st.sampled_from(["timesheets", "timesheets", "timesheets", 't:timesheets xmlns:t="urn:t"',
                        "timesheets xmlns='urn:d'", "other"])
EPILOG = st.sampled_from(["", "\n", "<!-- end -->", "junk", "<timesheets/>"])


@st.composite
def documents(draw) -> str:
    root = draw(ROOT)
    body = "".join(draw(BETWEEN) + record for record in draw(st.lists(RECORD, max_size=7)))
    return f"{draw(PROLOG)}<{root}>{body}{draw(BETWEEN)}</{root.split()[0]}>{draw(EPILOG)}"


@SETTINGS
@given(documents(), st.integers(1, 5), st.sampled_from([7, 64, 1 << 20]))
def test_scanner_equals_the_lxml_path(text, chunk_size, size):
    data = text.encode("latin-1" if "latin-1" in text else "utf-8", errors="replace")
    assert_same(data, chunk_size, size)


@SETTINGS
@given(documents(), st.integers(1, 5), st.sampled_from([7, 1 << 20]), st.data())
def test_scanner_equals_the_lxml_path_on_broken_files(text, chunk_size, size, data):
    raw = text.encode("utf-8")
    cut = data.draw(st.integers(0, len(raw)))
    junk = data.draw(st.sampled_from([b"", b"<", b"&", b"\xff", b"\xc3", b"\x00", b"</entry>", b"<entry>", b"]]>"]))
    broken = raw[:cut] + junk + (raw[cut:] if data.draw(st.booleans()) else b"")
    assert_same(broken, chunk_size, size)


SIMPLE = st.lists(
    st.lists(st.tuples(st.sampled_from(["ID", "NAME", "SSN", "Hours"]), TEXT, st.booleans()), max_size=4),
    max_size=12,
)


@SETTINGS
@given(SIMPLE, st.integers(1, 5), st.sampled_from([5, 40, 1 << 20]), GAP)
def test_simple_files_equal_the_lxml_path(records, chunk_size, size, gap):
    """Mostly the scanner's own shape: its template columns, per-record dicts, handovers."""
    body = "".join(
        "<entry>" + "".join(gap + (f"<{n}/>" if empty else f"<{n}>{t}</{n}>") for n, t, empty in record) + "</entry>"
        for record in records
    )
    data = f"<?xml version='1.0' encoding='utf-8'?>\n<timesheets>{gap}{body}{gap}</timesheets>\n".encode()
    assert_same(data, chunk_size, size)


CLEAN_TEXT = st.lists(st.sampled_from(["a", "Nuñez", "𝄞", " ", "\n", "\r\n", "&amp;", "&#233;", ">", "8.50"]),
                      max_size=3).map("".join)


@st.composite
def mostly_simple(draw) -> str:
    """Vendor-like records (fixed order, some fields missing or empty), maybe one odd thing."""
    names = ["ID", "NAME", "SSN", "Hours"]
    records = []
    for _ in range(draw(st.integers(0, 14))):
        fields = []
        orders = [names] * 6 + [names[:2] + names[3:], names[::-1], ["NAME", "ID", "ID"]]
        for name in draw(st.sampled_from(orders)):
            fields.append(draw(st.sampled_from([f"<{name}>{draw(CLEAN_TEXT)}</{name}>", f"<{name}/>",
                                                f"<{name}></{name}>", f"<{name}>{draw(CLEAN_TEXT)}</{name}>"])))
        records.append("<entry>" + draw(GAP).join(fields) + "</entry>")
    if records and draw(st.booleans()):
        odd = draw(st.one_of(RECORD, BETWEEN, FIELD.map("<entry>{}</entry>".format), st.just("<entry><X/></entry>")))
        records.insert(draw(st.integers(0, len(records))), odd)
    return "<?xml version='1.0' encoding='utf-8'?>\n<timesheets>\n" + draw(GAP).join(records) + "\n</timesheets>\n"


@settings(SETTINGS, max_examples=400)
@given(mostly_simple(), st.integers(1, 5), st.sampled_from([60, 90, 300, 1 << 20]))
def test_mostly_simple_files_equal_the_lxml_path(text, chunk_size, size):
    """The scanner's template columns and per-record dicts, then a handover in the middle."""
    assert_same(text.encode(), chunk_size, size)


def test_the_scanner_reads_the_sample_vendor_file(monkeypatch):
    handovers, batches = [], []
    real_handover, real_read = xml_scan.Scanner.handover, xml_scan.Scanner._read

    def handover(self):
        handovers.append(self)
        return real_handover(self)

    def read(self, region):
        batch = real_read(self, region)
        batches.append(type(batch).__name__)
        return batch

    monkeypatch.setattr(xml_scan.Scanner, "handover", handover)
    monkeypatch.setattr(xml_scan.Scanner, "_read", read)
    data = (Path(__file__).parents[1] / "pipeline" / "golden" / "EUREKA" / "inbound.xml").read_bytes()
    for size in (1 << 20, 2000):
        batches.clear()
        got = reader_path(data, XML, 7, size)
        assert handovers == [] and len(got) > 1
        assert outcome(got) == outcome(lxml_path(data, XML, 7, size))
    # Every block is read as Arrow columns, none record by record.
    assert len(batches) > 3 and set(batches) == {"Columns"}


@pytest.mark.parametrize(
    "text",
    [
        "<timesheets><entry><ID>1</ID></entry><!-- c --><entry><ID>2</ID></entry></timesheets>",
        "<timesheets><entry><ID>1</ID></entry><entry><ID>&#0;</ID></entry></timesheets>",
        "<timesheets>\n<entry><ID>1</ID></entry>\n\n<entry><ID>2</ID></entr></timesheets>",
        "<timesheets>\r\n<entry><ID>1</ID></entry>\r\n\r<entry><ID>2</ID>\n</entry>\n<entry>",
        "<timesheets><entry><ID>1</ID></entry></timesheets><!-- after -->",
        "<timesheets><entry><ID>1</ID></entry></timesheets>junk",
        "<timesheets><entry><ID>a\r\nb\rc&#13;&amp;</ID><N/><N>x</N><ID></ID></entry></timesheets>",
        "<timesheets><entry><entry>1</entry></entry></timesheets>",
        "<timesheets><entry><ID>" + "x" * 300 + "</ID></entry></timesheets>",
    ],
)
def test_handover_cases(text):
    for chunk_size in (1, 2, 3):
        for size in (3, 50, 1 << 20):
            assert_same(text.encode(), chunk_size, size)
