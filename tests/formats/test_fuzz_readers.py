"""Fuzzed readers (issue #12): any bytes give chunks or a clean bad-file error, never a crash.

Every registered reader (one case per sample vendor, so CSV is read both as UTF-8 ``,`` and as
latin-1 ``;``) is fed through ``get_reader(fmt).read_chunks(stream, vendor.input, chunk_size)``,
the call ``pipeline/inbound.py`` makes:

* arbitrary bytes;
* a soup of the format's own tokens (brackets, quotes, tags, references, BOMs, NULs, ...),
  which gets much deeper into the parsers than random bytes;
* valid files, truncated or with bytes flipped, inserted, deleted or repeated: sample files
  from ``timesheet_batch.sample_data``, hand-written edge files, and files built from random
  records (nesting, number forms, lone surrogates, quoting, namespaces, references).

Each reader must yield well-formed chunks (string columns, an int64 ``__record_number`` last,
at most ``chunk_size`` rows) or raise :class:`~timesheet_batch.errors.BadFileError`
(permanent) with a one-line message that quotes no record content (no name or SSN of a
sample file). Anything else is a bug: the runner would record ``internal error (TypeName)``
instead of a reason, or, worse, the worker process would die. ``process_inbound_file`` over a
LocalStorage is fuzzed the same way (a quarter of the examples: a run costs more), and so is
``arrow_json.parse_objects``, the one pyarrow.json call, on its own.

Isolation: every reader ends in C or C++ code given the file's bytes (pyarrow's CSV and JSON
parsers, pyarrow compute kernels, lxml / libxml2), and pyarrow 26 does segfault on a JSON batch
whose first value is ``null`` (guarded in ``arrow_json.parse_objects``). So all examples of all
readers run in one long-lived worker subprocess: a crash (signal) or a hang (``HANG_S``) fails
the example with the signal, the input and the worker's faulthandler stack, pytest lives on,
and hypothesis shrinks the input with a fresh worker. A pipe round trip per example costs
little, so no reader is trusted to run in the pytest process. Each example also draws the JSON
fast path on or off (``arrow_json.MIN_OBJECTS``: small inputs would never reach pyarrow) and the
text readers' block size (``text_io.BLOCK_BYTES``: small blocks cut characters, BOMs and
records across reads).

CI runs ``FUZZ_EXAMPLES`` (default 200) examples per reader and input family. The long run is
one variable away (the per-test timeout is lifted above the default)::

    FUZZ_EXAMPLES=7000 python -m pytest -q -p no:cacheprovider tests/formats/test_fuzz_readers.py
"""

from __future__ import annotations

import atexit
import csv
import datetime as dt
import faulthandler
import io
import json
import os
import pickle
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from timesheet_batch.errors import BadFileError, UnreadableFileError
from timesheet_batch.formats import RECORD_NUMBER, arrow_json, get_reader, text_io
from timesheet_batch.pipeline import process_inbound_file
from timesheet_batch.sample_data import generate_sample_files
from timesheet_batch.storage import LocalStorage
from timesheet_batch.vendors import load_catalog

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_VENDORS = REPO_ROOT / "timesheet_batch" / "vendors" / "sample_vendors.yaml"

#: Examples per reader and input family; the default keeps the file well under a minute.
DEFAULT_EXAMPLES = 200
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", DEFAULT_EXAMPLES))
LONG_RUN = FUZZ_EXAMPLES > DEFAULT_EXAMPLES
#: Most seconds one example may take in the worker before it counts as a hang.
HANG_S = 30.0

settings.register_profile(
    "fuzz-readers",
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
FUZZ = settings.get_profile("fuzz-readers")

#: One case per sample vendor: (case name, vendor id). The vendor's ``input`` options are what
#: the pipeline passes to the reader.
CASES = {
    "csv": "ACME",
    "csv-latin1": "BAYCARE",
    "json": "CENTRAL",
    "ndjson": "DELTA",
    "xml": "EUREKA",
    "fixed_width": "FRESNO",
}

pytestmark = pytest.mark.timeout(0 if LONG_RUN else 300)


# --- what one example does (in the worker process, or in this one) -------------------------


@dataclass(frozen=True)
class Outcome:
    """What a reader did with one input: ``kind`` is "chunks", "bad-file" or "other"."""

    kind: str
    detail: str
    exc_type: str = ""
    message: str = ""


@cache
def _catalog():
    return load_catalog(SAMPLE_VENDORS)


def read_once(case: str, data: bytes, chunk_size: int, block_bytes: int, fast: bool) -> Outcome:
    """Read ``data`` as the pipeline would for ``case``; never raises (except BaseException)."""
    options = _catalog().get(CASES[case]).input
    saved = arrow_json.MIN_OBJECTS, text_io.BLOCK_BYTES
    arrow_json.MIN_OBJECTS = 0 if fast else saved[0]
    text_io.BLOCK_BYTES = block_bytes
    try:
        tables = rows = 0
        for table in get_reader(options.format).read_chunks(io.BytesIO(data), options, chunk_size):
            tables += 1
            rows += table.num_rows
            problem = _shape_problem(table, chunk_size)
            if problem:
                return Outcome("other", f"chunk {tables}: {problem}")
        return Outcome("chunks", f"{tables} chunk(s), {rows} record(s)")
    except Exception as exc:  # noqa: BLE001 - the very thing this test looks for
        return _failure(exc)
    finally:
        arrow_json.MIN_OBJECTS, text_io.BLOCK_BYTES = saved


def _failure(exc: Exception) -> Outcome:
    """What an exception from a reader means: a permanent bad-file error, or anything else."""
    if isinstance(exc, BadFileError):
        if exc.transient:
            return Outcome("other", "a transient BadFileError", type(exc).__name__, str(exc))
        return Outcome("bad-file", "", type(exc).__name__, str(exc))
    return Outcome("other", traceback.format_exc(limit=-8), type(exc).__name__, str(exc)[:500])


@cache
def _inbound_storage():
    """One temporary LocalStorage root per worker process (the same key is overwritten)."""
    root = tempfile.mkdtemp(prefix="fuzz-inbound-")
    atexit.register(shutil.rmtree, root, True)
    return LocalStorage(root)


def inbound_once(case: str, data: bytes, chunk_size: int) -> Outcome:
    """Run ``data`` through the pipeline's inbound stage over a LocalStorage; never raises."""
    storage, vendor = _inbound_storage(), _catalog().get(CASES[case])
    key = f"inbound/2026-11-22/{vendor.id}/fuzz.dat"
    storage.write_bytes(key, data)
    try:
        outcome = process_inbound_file(
            storage=storage, vendor=vendor, key=key, business_date=dt.date(2026, 11, 22), chunk_size=chunk_size
        )
        return Outcome("chunks", f"{outcome.records_read} read, {outcome.records_rejected} rejected")
    except Exception as exc:  # noqa: BLE001 - the very thing this test looks for
        return _failure(exc)


def _shape_problem(table: pa.Table, chunk_size: int) -> str:
    """What is wrong with a chunk ("" if nothing): the readers' contract (formats/base.py)."""
    record_number = RECORD_NUMBER
    if not isinstance(table, pa.Table):
        return f"not a table: {type(table).__name__}"
    if table.num_rows > chunk_size:
        return f"{table.num_rows} rows > chunk size {chunk_size}"
    names = table.column_names
    if not names or names[-1] != record_number or table.schema.field(record_number).type != pa.int64():
        return f"no int64 {record_number} last: {table.schema}"
    if len(set(names)) != len(names):
        return "repeated column names"
    for field in table.schema:
        if field.name != record_number and field.type != pa.string():
            return f"column {field.name!r} is {field.type}, not string"
    return ""


def parse_objects_once(data: bytes) -> Outcome:
    """``arrow_json.parse_objects`` (the pyarrow.json call behind both JSON readers): a table or None."""
    try:
        table = arrow_json.parse_objects(data, set())
    except Exception as exc:  # noqa: BLE001 - the very thing this test looks for
        return Outcome("other", traceback.format_exc(limit=-8), type(exc).__name__, str(exc)[:500])
    return Outcome("chunks", "None" if table is None else f"{table.num_rows} row(s)")


def _abort() -> Outcome:
    os.abort()  # the harness's own check: a dead worker must fail the example


#: What the worker can be asked to do: name -> function of the request's other items.
OPERATIONS = {"read": read_once, "inbound": inbound_once, "parse_objects": parse_objects_once, "abort": _abort}


def _worker_main() -> None:
    """The worker: run ``(operation, *arguments)`` requests (:data:`OPERATIONS`) from stdin and
    answer each :class:`Outcome` on stdout."""
    faulthandler.enable()  # a crash prints the Python stack to stderr (shown by the parent)
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing else may write into the answer pipe
    while True:
        head = requests.read(4)
        if len(head) < 4:
            return
        what, *request = pickle.loads(requests.read(struct.unpack(">I", head)[0]))
        answer = pickle.dumps(OPERATIONS[what](*request))
        answers.write(struct.pack(">I", len(answer)) + answer)
        answers.flush()


class Worker:
    """A long-lived subprocess that runs :data:`OPERATIONS`; started again after it died."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self._stderr = None

    def _start(self) -> subprocess.Popen:
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - outlives this call, closed in _died
        self._proc = subprocess.Popen(
            [sys.executable, "-c", "from tests.formats.test_fuzz_readers import _worker_main; _worker_main()"],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        return self._proc

    def run(self, *request) -> Outcome:
        proc = self._proc if self._proc is not None and self._proc.poll() is None else self._start()
        payload = pickle.dumps(request)
        try:
            proc.stdin.write(struct.pack(">I", len(payload)) + payload)
            proc.stdin.flush()
            head = self._read(proc, 4)
            answer = self._read(proc, struct.unpack(">I", head)[0])
        except (BrokenPipeError, EOFError, TimeoutError) as exc:
            return self._died(proc, exc)
        return pickle.loads(answer)

    def _read(self, proc: subprocess.Popen, size: int) -> bytes:
        data = b""
        deadline = time.monotonic() + HANG_S
        while len(data) < size:
            ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError
            part = os.read(proc.stdout.fileno(), size - len(data))
            if not part:
                raise EOFError
            data += part
        return data

    def _died(self, proc: subprocess.Popen, exc: BaseException) -> Outcome:
        hung = isinstance(exc, TimeoutError)
        if hung:
            proc.kill()
        code = proc.wait()
        self._stderr.seek(0)
        tail = self._stderr.read()[-3000:].decode("utf-8", "replace")
        self._stderr.close()
        self._proc = None
        how = f"hung for over {HANG_S:.0f} s" if hung else _exit_name(code)
        return Outcome("crash", f"the worker process {how}\n{tail}")

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()


def _exit_name(code: int) -> str:
    if code < 0:
        try:
            return f"died of {signal.Signals(-code).name}"
        except ValueError:
            return f"died of signal {-code}"
    return f"exited with status {code}"


@pytest.fixture(scope="module")
def worker():
    one = Worker()
    yield one
    one.close()


# --- inputs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    data: bytes
    #: Names and SSNs in the file: no error message may quote them.
    personal: frozenset[str]


@cache
def samples() -> dict[str, list[Sample]]:
    """Two small valid files per case (10 % bad records), from the sample data generator."""
    catalog = _catalog()
    by_vendor: dict[str, list[Sample]] = {vendor: [] for vendor in CASES.values()}
    with tempfile.TemporaryDirectory(prefix="fuzz-samples-") as root:
        storage = LocalStorage(root)
        for seed in (1, 2):
            files = generate_sample_files(
                storage, catalog, business_date=dt.date(2026, 11, 22), files=len(CASES), records=8,
                bad_ratio=0.1, seed=seed,
            )
            for sample in files:
                vendor = catalog.get(sample.vendor_id)
                data = storage.read_bytes(sample.key)
                personal: set[str] = set()
                with storage.open_read(sample.key) as stream:
                    for table in get_reader(vendor.input.format).read_chunks(stream, vendor.input, 1000):
                        for field in ("provider_name", "provider_ssn"):
                            name = vendor.fields.get(field)
                            if name in table.column_names:
                                values = pc.utf8_trim_whitespace(table.column(name)).to_pylist()
                                personal.update(v for v in values if v and len(v) >= 5)
                by_vendor[sample.vendor_id].append(Sample(data, frozenset(personal)))
    return {case: by_vendor[vendor] for case, vendor in CASES.items()}


#: Hand-written files that reach what the generated samples do not (quoting, nesting, namespaces,
#: references, the XML fast path's repeated fields, CR LF, ...): seeds for the mutations too.
EDGE_FILES = {
    "csv": [b'EMP,NAME\n"P1","Nu\xc3\xb1ez, ""J""\nline"\r\n\nP2,Ana\n3,\n'],
    "csv-latin1": [b'EMP;NAME\nP1;Nu\xf1ez\n"P2";"a;b"\r\n'],
    "json": [b'[{"ID": "1", "H": 8.50, "N": 7, "B": true, "X": null},\n {"ID": "2", "n": {"a": [1, null]}, "ID": "3"},'
             b'\n {"D": "2026-11-06", "Z": -0, "E": "\\u00e9\\"\\\\"}]',
             b'[{"a":"1"},{"a":"2"},{"a":"3"},{"a":"4"}]'],
    "ndjson": [b'{"ID": "1", "H": 8.50}\n\n{"ID": "2", "N": 3, "D": "2026-11-06T10:00:00"}\r\n'
               b'{"X": [1, {"a": null}], "ID": "3"}\n',
               b'{"a":"1"}\n{"a":"2"}\n{"a":"3"}\n'],
    "xml": [b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE timesheets>\n<t:timesheets xmlns:t="urn:t">\n'
            b'<t:entry kind="a"><ID>1</ID><NAME>Ana &amp; B&#233;</NAME><!-- c --></t:entry>\r\n'
            b'<t:entry><ID>2</ID><NAME><b>Jo</b>hn<![CDATA[<x>]]></NAME><?pi x?></t:entry>\n'
            b'<other><entry><ID>no</ID></entry></other>\n</t:timesheets>\n',
            b'<?xml version="1.0"?>\n<timesheets>\n<entry><ID>1</ID><NAME>Ana</NAME><E/></entry>\n'
            b'<entry><NAME>B&amp;o\r</NAME><ID>2</ID><ID>3</ID></entry>\n</timesheets>'],
    "fixed_width": [b"P1        Nu\xc3\xb1ez\r\n\nP2  Ana\n   \nP3" + b"x" * 100 + b"\n"],
}

_COMMON = [b"\x00", b"\xff", b"\xef\xbb\xbf", b"\xfe\xff", b"\xc3", b"\xc3\xa9", b"\xf0\x9d\x84\x9e", b"\xed\xa0\x80",
           b"\r", b"\n", b"\r\n", b" ", b"\t", b"\\", b'"', b"'", b"\x1a", b"\x85", b"\xe2\x80\xa8"]
_JSON = [b"[", b"]", b"{", b"}", b",", b":", b"},{", b'"ID"', b'"a"', b'"a":', b'"x":"y"', b"null", b"true",
         b"false", b"0", b"-0", b"1", b"8.50", b"1e999", b"-1e-999", b"99999999999999999999", b"NaN", b"Infinity",
         b'"2026-11-06"', b'"2026-11-06T10:00:00"', b'"\\u0000"', b'"\\ud800"', b'"\\udc00\\ud800"', b'""',
         b'"\\"', b'"\\\\"', b"[]", b"{}", b"[[[[", b"]]]]", b'{"a":{"b":[1,{"c":null}]}}', b'{"a":1,"a":2}']
_XML = [b'<?xml version="1.0"?>', b'<?xml version="1.0" encoding="UTF-8"?>', b'<?xml version="1.0" encoding="UTF-16"?>',
        b'<?xml version="1.0" encoding="latin-1"?>', b'<?xml version="1.1"?>', b"<timesheets>", b"</timesheets>",
        b"<entry>", b"</entry>", b"<entry/>", b"<ID>", b"</ID>", b"<ID/>", b"<SSN>", b"</SSN>", b"Ana", b"8.5",
        b"&amp;", b"&lt;", b"&#65;", b"&#x41;", b"&#0;", b"&#x110000;", b"&#13;", b"&e;", b"&", b"<", b">", b"/>",
        b"</", b'<!DOCTYPE timesheets [<!ENTITY e "x">]>', b"<!DOCTYPE timesheets>", b"<![CDATA[x]]>",
        b"<!-- c -->", b"<?pi x?>", b'<t:entry xmlns:t="urn:t">', b"</t:entry>", b'<entry a="1">', b' b="2"',
        b'xmlns="urn:x"', b"<timesheets xmlns:x='urn:x'>", b"<x:ID>", b"</x:ID>", b"<timesheets><entry>"]
_CSV = [b",", b";", b'"', b'""', b'","', b"a", b"EMP", b"NAME", b"EMP,NAME,SSN", b"EMP;NAME;SSN", b"1", b"=1+1",
        b"\xe9", b"Nu\xc3\xb1ez", b"\n\n", b'"a\nb"', b"a,b,c\n", b"x" * 70]
_FIXED = [b"P000000001", b"Ana Garcia" + b" " * 20, b"123-45-6789", b"20261120", b"  8.00", b"x" * 120, b"\xc3\xb1",
          b"\xe9", b"\r\n"]
TOKENS = {
    "csv": _CSV,
    "csv-latin1": _CSV,
    "json": _JSON,
    "ndjson": _JSON,
    "xml": _XML,
    "fixed_width": _FIXED,
}

CHUNK_SIZES = st.sampled_from([1, 2, 3, 7, 1000, 100_000])
#: ``text_io.BLOCK_BYTES``: tiny blocks cut characters, BOMs and records across reads.
BLOCKS = st.sampled_from([1, 2, 3, 7, 64, 1024 * 1024])


@cache  # one strategy object per case: hypothesis caches its analysis of each (~20 % of the run)
def token_soup(case: str) -> st.SearchStrategy[bytes]:
    return st.lists(st.sampled_from(TOKENS[case] + _COMMON) | st.binary(max_size=4), max_size=60).map(b"".join)


_KEYS = ["ID", "NAME", "a", "é", "D"]
_JSON_SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.just("-0"),
    st.sampled_from(["2026-11-06", "2026-11-06T10:00:00", "", "}", "},{", '"', "\\", "\n", "\x00", "\ud800"]),
    st.text(max_size=6),
)


def _nested(inner: st.SearchStrategy) -> st.SearchStrategy:
    return st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_KEYS), inner, max_size=3)


_JSON_VALUE = st.recursive(_JSON_SCALAR, _nested, max_leaves=4)


def _json_text(value) -> str:
    if isinstance(value, str) and value == "-0":
        return "-0"  # a number, which Python keeps as "-0" and pyarrow reads as 0
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_json_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_json_text(v) for v in value) + "]"
    return json.dumps(value)  # NaN / Infinity as Python writes them; a lone surrogate escaped


@cache
@st.composite
def structured(draw, case: str) -> bytes:
    """A file of the case's shape built from random records (types, nesting, quoting, refs)."""
    if case in ("json", "ndjson"):
        records = draw(st.lists(st.lists(st.tuples(st.sampled_from(_KEYS), _JSON_VALUE), max_size=4), max_size=6))
        texts = ["{" + ", ".join(f'"{k}": {_json_text(v)}' for k, v in items) + "}" for items in records]
        if draw(st.booleans()):  # sometimes an element that is not an object
            texts = [draw(st.sampled_from([t, t, t, "null", "1", "[]", "  " + t])) for t in texts]
        if case == "ndjson":
            return draw(st.sampled_from(["\n", "\r\n", "\n\n"])).join(texts).encode("utf-8", "surrogatepass")
        separator = draw(st.sampled_from([",", ",\n", " ,", ", "]))
        return ("[" + separator.join(texts) + "]").encode("utf-8", "surrogatepass")
    if case == "xml":
        prolog = draw(st.sampled_from(['<?xml version="1.0"?>\n', "<?xml version='1.0' encoding='utf-8'?>", "",
                                       '<?xml version="1.0" encoding="ISO-8859-1"?>', "\ufeff<?xml version='1.0'?>",
                                       "<!DOCTYPE timesheets>"]))
        text = st.lists(st.sampled_from(["Ana", "&amp;", "&#233;", "&#x1F600;", "&#13;", "\r", "\n", " ", "é", ">",
                                         "<![CDATA[<x>]]>", "<!--c-->", "<b>x</b>", "&lt;"]), max_size=4).map("".join)
        field = st.tuples(st.sampled_from(["ID", "NAME", "x:ID", "entry", "E"]), text).map(
            lambda f: f"<{f[0]}/>" if not f[1] else f"<{f[0]}>{f[1]}</{f[0]}>")
        start = st.sampled_from(["<entry>", '<entry a="1">', '<t:entry xmlns:t="urn:t">', "<entry >"])
        records = draw(st.lists(st.tuples(start, st.lists(field, max_size=4)), max_size=6))
        body = "\n".join(f"{s}{''.join(fields)}</{s[1:].split()[0].rstrip('>')}>" for s, fields in records)
        encoding = "latin-1" if "8859" in prolog else "utf-8"
        xmlns = draw(st.sampled_from(["", ' xmlns:x="urn:x"']))
        return f"{prolog}<timesheets{xmlns}>\n{body}\n</timesheets>\n".encode(encoding, "replace")
    if case in ("csv", "csv-latin1"):
        delimiter = ";" if case == "csv-latin1" else ","
        cell = st.text(alphabet=st.sampled_from(['a', 'é', '"', delimiter, '\n', '\r', ' ', '0', '=']), max_size=5)
        header = draw(st.lists(st.sampled_from(["EMP", "NAME", "é", "a b", "X"]), min_size=1, max_size=4, unique=True))
        rows = draw(st.lists(st.lists(cell, min_size=len(header), max_size=len(header)), max_size=6))
        out = io.StringIO()
        quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]))
        csv.writer(out, delimiter=delimiter, quoting=quoting, lineterminator=draw(st.sampled_from(["\n", "\r\n"]))
                   ).writerows([header, *rows])
        return out.getvalue().encode("latin-1" if case == "csv-latin1" else "utf-8", "replace")
    lines = draw(st.lists(st.text(alphabet=st.sampled_from(["P", "1", " ", "é", "\t", "\r", "ß"]), max_size=100)))
    return "\n".join(lines).encode()


@cache
@st.composite
def mutated_sample(draw, case: str) -> tuple[bytes, frozenset[str]]:
    """A valid file with a few random edits (truncate, flip, insert, delete, repeat).

    The file is a generated sample (its names and SSNs are returned: no message may quote
    them), an edge file, or a :func:`structured` one (then maybe left as it is).
    """
    pool = samples()[case] + [Sample(data, frozenset()) for data in EDGE_FILES[case]]
    if draw(st.integers(0, 2)) == 0:
        sample, edits = Sample(draw(structured(case)), frozenset()), draw(st.integers(0, 3))
    else:
        sample, edits = draw(st.sampled_from(pool)), draw(st.integers(1, 4))
    data = bytearray(sample.data)
    for _ in range(edits):
        where = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(["truncate", "flip", "insert", "token", "delete", "repeat"]))
        if edit == "truncate":
            del data[where:]
        elif edit == "flip" and where < len(data):
            data[where] ^= draw(st.integers(1, 255))
        elif edit == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=8))
        elif edit == "token":
            data[where:where] = draw(st.sampled_from(TOKENS[case] + _COMMON))
        elif edit == "delete":
            del data[where : where + draw(st.integers(1, 40))]
        elif edit == "repeat":
            data[where:where] = data[where : where + draw(st.integers(1, 200))]
    return bytes(data), sample.personal


# --- the tests ------------------------------------------------------------------------------


def check(worker: Worker, case: str, data: bytes, chunk_size: int, block: int, fast: bool,
          personal: frozenset[str] = frozenset()) -> None:
    """Read ``data`` in the worker; fail on anything but chunks or a clean bad-file error."""
    outcome = worker.run("read", case, data, chunk_size, block, fast)
    judge(outcome, f"{case} reader, chunk_size={chunk_size}, block={block}, fast={fast}, input={data[:2000]!r}",
          personal)


def judge(outcome: Outcome, where: str, personal: frozenset[str]) -> None:
    if outcome.kind == "crash":
        pytest.fail(f"{where}: {outcome.detail}", pytrace=False)
    if outcome.kind == "other":
        pytest.fail(f"{where}: not a bad-file error: {outcome.exc_type}: {outcome.message}\n{outcome.detail}",
                    pytrace=False)
    if outcome.kind == "bad-file":
        message = outcome.message
        assert message and "\n" not in message and len(message) < 300, (where, message)
        quoted = [value for value in personal if value in message]
        assert not quoted, f"{where}: the message {message!r} quotes record content {quoted}"


@pytest.mark.parametrize("case", CASES)
@FUZZ
@given(data=st.binary(max_size=600), chunk_size=CHUNK_SIZES, block=BLOCKS, fast=st.booleans())
def test_arbitrary_bytes(worker, case, data, chunk_size, block, fast):
    check(worker, case, data, chunk_size, block, fast)


@pytest.mark.parametrize("case", CASES)
@FUZZ
@given(draw=st.data(), chunk_size=CHUNK_SIZES, block=BLOCKS, fast=st.booleans())
def test_format_tokens(worker, case, draw, chunk_size, block, fast):
    check(worker, case, draw.draw(token_soup(case)), chunk_size, block, fast)


@pytest.mark.parametrize("case", CASES)
@FUZZ
@given(draw=st.data(), chunk_size=CHUNK_SIZES, block=BLOCKS, fast=st.booleans())
def test_mutated_samples(worker, case, draw, chunk_size, block, fast):
    raw, personal = draw.draw(mutated_sample(case))
    check(worker, case, raw, chunk_size, block, fast, personal)


@cache
def inbound_inputs(case: str) -> st.SearchStrategy[tuple[bytes, frozenset[str]]]:
    return mutated_sample(case) | token_soup(case).map(lambda data: (data, frozenset()))


@pytest.mark.parametrize("case", CASES)
@settings(FUZZ, max_examples=max(25, FUZZ_EXAMPLES // 4))  # a whole run costs ~10 ms: fewer
@given(draw=st.data(), chunk_size=st.sampled_from([1, 3, 100_000]))
def test_inbound_stage_fails_cleanly(worker, case, draw, chunk_size):
    """The promise itself: through ``process_inbound_file`` a bad file is a BadFileError with a reason."""
    raw, personal = draw.draw(inbound_inputs(case))
    outcome = worker.run("inbound", case, raw, chunk_size)
    judge(outcome, f"{case} inbound stage, chunk_size={chunk_size}, input={raw[:2000]!r}", personal)


@FUZZ
@given(draw=st.data())
def test_arrow_json_parse_objects(worker, draw):
    """The one pyarrow.json call, fed directly (the readers' own checks left out): a table or None.

    pyarrow 26 segfaults on a first value ``null``; ``parse_objects`` guards it. Objects
    separated by white space, as the readers hand them over, then mutated.
    """
    data = draw.draw(structured("ndjson"))  # objects (or not) one a line
    if draw.draw(st.booleans()):
        data = data.replace(b"\n", b" ")
    if draw.draw(st.booleans()):
        data = draw.draw(token_soup("json")) + data
    judge(worker.run("parse_objects", data), f"parse_objects, input={data[:2000]!r}", frozenset())


# --- the harness itself, and regressions of what the fuzzing found --------------------------


def test_a_dead_worker_fails_the_example():
    worker = Worker()  # its own: the shared one may hold a temporary folder to remove at exit
    try:
        outcome = worker.run("abort")
        assert outcome.kind == "crash" and "SIGABRT" in outcome.detail
        with pytest.raises(pytest.fail.Exception, match="SIGABRT"):
            judge(outcome, "abort", frozenset())
        assert worker.run("read", "csv", b"EMP\nP1\n", 10, 1024, False).kind == "chunks"  # a new worker
    finally:
        worker.close()


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize(("case", "data"), [("json", b"null"), ("json", b"[null]"), ("json", b"[{}, null]"),
                                            ("ndjson", b"null\n"), ("ndjson", b"{}\nnull\n")])
def test_a_batch_starting_with_null_stays_guarded(worker, case, data, fast):
    """The known pyarrow crash (SIGSEGV on a JSON batch whose first value is ``null``) stays guarded."""
    assert worker.run("parse_objects", data.strip(b"[]")).kind == "chunks"
    assert worker.run("read", case, data, 1, 1024, fast).kind == "bad-file"


def read_here(case: str, data: bytes, fast: bool = False, chunk_size: int = 2, block: int = 1024 * 1024) -> list:
    """Read ``data`` in this process (for inputs known not to crash it)."""
    options = _catalog().get(CASES[case]).input
    saved = arrow_json.MIN_OBJECTS, text_io.BLOCK_BYTES
    arrow_json.MIN_OBJECTS, text_io.BLOCK_BYTES = (0 if fast else saved[0]), block
    try:
        return list(get_reader(options.format).read_chunks(io.BytesIO(data), options, chunk_size))
    finally:
        arrow_json.MIN_OBJECTS, text_io.BLOCK_BYTES = saved


@pytest.mark.parametrize("case", ["csv", "csv-latin1"])
@pytest.mark.parametrize("data", [b"\r\x01", b"EMP,NAME\rP1,Ana\r"])
def test_found_csv_bare_cr_in_header(case, data):
    """Was ``_csv.Error`` (internal error): a CR not followed by LF in the header line (e.g. CR-only line ends)."""
    with pytest.raises(UnreadableFileError, match="header line cannot be parsed as CSV"):
        read_here(case, data)


def test_found_csv_quoted_line_break_in_header():
    """Was silently wrong: pyarrow read other header names than the peeked line, so the columns
    were type-inferred (``00123`` -> ``123``, a chunk of int64 columns) instead of strings."""
    with pytest.raises(UnreadableFileError, match="quoted line break"):
        read_here("csv", b'"E\nMP",B\n1,2\n')
    with pytest.raises(UnreadableFileError, match="quoted line break"):
        read_here("csv", b'"X\nY",EMP\n1,00123\n')


@pytest.mark.parametrize("data", [b"[", b" [", b"\n\n["])
@pytest.mark.parametrize("block", [1, 1024 * 1024])
def test_found_json_array_that_is_only_an_opening_bracket(data, block):
    """Was ``ValueError: need at least one array to concatenate`` (ArraySplitter with no block scanned)."""
    with pytest.raises(UnreadableFileError, match="truncated"):
        read_here("json", data, block=block)


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize(("case", "data", "number"), [
    ("ndjson", b'{"ID": "\\ud800"}', 1),
    ("ndjson", b'{"ID": "1"}\n\n{"\\udc00": "x"}\n', 3),
    ("json", b'[{"ID": "1"}, {"ID": {"a": ["\\ud800"]}}]', 2),
    ("json", b'[{"\\ud800": "1"}]', 1),
])
def test_found_json_lone_surrogate_escape(case, data, number, fast):
    """Was ``UnicodeEncodeError`` (internal error): ``json`` decodes ``"\\ud800"`` to a lone
    surrogate, which Arrow (UTF-8) cannot hold. Now the file is refused, naming the record only."""
    with pytest.raises(UnreadableFileError, match=f"^record number {number} holds a lone surrogate") as caught:
        read_here(case, data, fast=fast, chunk_size=1)
    assert "\n" not in str(caught.value)
    assert read_here(case, b'[{"ID": "\\ud83d\\ude00"}]' if case == "json" else b'{"ID": "\\ud83d\\ude00"}',
                     fast=fast)[0].column("ID").to_pylist() == ["\U0001f600"]  # a whole pair is fine
