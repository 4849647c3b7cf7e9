"""Validation and mapping of one raw chunk to canonical records (per-record rules only).

``validate_chunk(raw, vendor, business_date)`` maps the vendor's columns to canonical names,
checks the rules of docs/architecture.md ("Canonical timesheet record") with vectorised
pyarrow.compute kernels and, for the SSN and decimal shapes, numpy over the string bytes (the
regex kernels were the largest cost; the tests compare the two) — no Python loop over rows,
except up to :data:`FEW_VALUES` values, where the fixed cost of each kernel or numpy call
dominates (the common nightly file is one chunk of 140 records): there Python's re reads the
SSN and decimal shapes and the day written in a date (the tests compare both paths) —
and returns ``(valid, rejects)``:
``valid`` in :data:`~timesheet_batch.pipeline.records.CANONICAL_SCHEMA`, ``rejects`` in
:data:`~timesheet_batch.pipeline.records.REJECTS_SCHEMA`.

Every value is trimmed of surrounding white space first (fixed-width and hand-made files pad),
and an empty value counts as absent. A record is rejected once, for the *first* failing rule
in field order (``provider_id`` … ``service_code``) and rule order within a field: one reason
is enough to fix a record and keeps the rejects file as long as the number of bad records.

Rules: ``required``, ``pattern`` (ids, SSN), ``max_length`` (name), ``integer`` and ``range``
(county), ``date_format`` and ``date_window`` (work date), ``decimal`` and ``range`` (hours,
pay rate), ``enum`` (service code). Cross-record rules (``duplicate``,
``daily_hours_exceeded``) need the whole file and live in :mod:`.cross_record`.

Dates are parsed with the vendor's ``date_format`` by arrow's strptime, which rolls
``2026-02-30`` over to March 2nd; :func:`_rolled_over` catches that without a per-row
``datetime`` call.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from timesheet_batch.errors import UnreadableFileError
from timesheet_batch.formats.base import RECORD_NUMBER
from timesheet_batch.formats.text_io import string_buffers
from timesheet_batch.pipeline.masking import mask_reject_values
from timesheet_batch.pipeline.records import (
    AMOUNT_TYPE,
    CANONICAL_SCHEMA,
    HOURS_TYPE,
    MAX_DAILY_HOURS,
    MAX_PAY_RATE,
    PAY_RATE_TYPE,
    SERVICE_CODES,
    WORK_DATE_WINDOW_DAYS,
    empty_rejects,
    make_rejects,
)
from timesheet_batch.vendors.profile import (
    CANONICAL_INPUT_FIELDS,
    OPTIONAL_CANONICAL_FIELDS,
    VendorProfile,
)

#: The shapes of a decimal and an SSN, checked on the bytes by decimal_shape and ssn_shape
#: (the tests compare them with these regexes).
DECIMAL_RE = r"^[+-]?(\d{1,16}(\.\d{0,2})?|\.\d{1,2})$"
SSN_RE = r"^(\d{3}-\d{2}-\d{4}|\d{9})$"
_LEADING_ZEROS_RE = r"(^|\D)0+(\d)"
_SERVICE_CODES = pa.array(sorted(SERVICE_CODES), pa.string())
_NULL_STRING = pa.scalar(None, pa.string())
#: Python's re for SSN_RE and DECIMAL_RE as RE2 reads them: ``\d`` is ``[0-9]`` (re.ASCII), and with
#: ``fullmatch`` a ``$`` before a final line feed (Python's ``$`` allows it) cannot end the match.
_SSN_PYTHON_RE = re.compile(SSN_RE, re.ASCII)
_DECIMAL_PYTHON_RE = re.compile(DECIMAL_RE, re.ASCII)

#: Up to this many values a check runs as a Python loop or a single kernel rather than by the
#: vectorised paths built for big chunks, whose fixed cost is tens of numpy calls or kernels
#: (a 140-row chunk, the common nightly file: decimal_shape 97 µs on the bytes, 46 µs by re).
FEW_VALUES = 256


def _np(mask: pa.Array, null_as: bool = False) -> np.ndarray:
    """A pyarrow boolean array as a numpy bool array, nulls as ``null_as``."""
    if mask.null_count:
        mask = pc.fill_null(mask, null_as)
    return mask.to_numpy(zero_copy_only=False)


# Byte-level checks on the offsets and bytes of a string array seen through numpy
# (text_io.string_buffers, no copy). Cheaper than the trim and regex kernels they skip or
# replace (measured per 100k values).


def _is_space(data: np.ndarray) -> np.ndarray:
    """What ascii_trim_whitespace removes: tab, line feed, vertical tab, form feed, CR, space."""
    return (data == 32) | ((data - np.uint8(9)) < 5)


def _may_need_trim(offsets: np.ndarray, data: np.ndarray) -> bool:
    """False when no value starts or ends with ASCII white space.

    Reads the first and last byte of every value (one gather for both); for an empty value or
    a null slot that is a neighbour's byte, which can only make this say True when trimming
    would change nothing. Every white space byte is <= 32, rare at an edge otherwise: one
    comparison settles most columns (this check was 54 µs at 140 rows as two gathers and
    six comparisons; a 256-entry lookup table is 2x slower than them at 100k rows).
    """
    if offsets[-1] == offsets[0]:
        return False  # no bytes at all
    edges = np.take(data, np.concatenate((offsets[:-1], offsets[1:] - 1)), mode="clip")
    low = edges <= 32
    return bool(low.any() and _is_space(edges[low]).any())


def _empty_values(offsets: np.ndarray) -> np.ndarray:
    """Per value: whether it is empty (a null slot of zero length counts as one: harmless)."""
    return offsets[1:] == offsets[:-1]


def _with_nulls(column: pa.Array, ok: np.ndarray) -> pa.Array:
    """``ok`` as a boolean array, null where ``column`` is null (as a compute kernel gives)."""
    if column.null_count == 0:
        return pa.array(ok)
    return pa.array(ok, mask=_np(pc.is_null(column)))


def _rows_flagged(flags: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Per value: whether any of its bytes is flagged (``flags`` runs over the data buffer)."""
    hits = np.flatnonzero(flags[offsets[0] : offsets[-1]]) + offsets[0]
    rows = np.zeros(len(offsets) - 1, dtype=bool)
    rows[np.searchsorted(offsets, hits, side="right") - 1] = True
    return rows


def _fullmatches(column: pa.Array, regex: re.Pattern[str]) -> np.ndarray:
    """Per value: whether ``regex`` matches all of it (False where null), by Python's re."""
    return np.array(
        [value is not None and regex.fullmatch(value) is not None for value in column.to_pylist()],
        dtype=bool,
    )


def _shaped(column: pa.Array, regex: re.Pattern[str], of_bytes) -> pa.Array:
    """Whether each value matches ``regex`` (null where null).

    Up to :data:`FEW_VALUES` values by Python's re, else by ``of_bytes`` on the bytes (~2x
    faster than the regex kernel).
    """
    rows = _fullmatches(column, regex) if len(column) <= FEW_VALUES else of_bytes(column)
    return _with_nulls(column, rows)


def ssn_shape(column: pa.Array) -> pa.Array:
    """Whether each value matches :data:`SSN_RE` (null where null)."""
    return _shaped(column, _SSN_PYTHON_RE, _ssn_shape_of_bytes)


def _ssn_shape_of_bytes(column: pa.Array) -> np.ndarray:
    """:func:`ssn_shape` on the bytes (anything where null).

    Every accepted character is ASCII (RE2's ``\\d`` is ``[0-9]``), so checking the UTF-8 bytes
    is checking the characters.
    """
    offsets, data = string_buffers(column)
    starts, lengths = offsets[:-1], np.diff(offsets)
    other = (data - np.uint8(48)) > 9  # not an ASCII digit
    long = np.flatnonzero(lengths == 11)
    long_starts = starts[long]
    dashed = (data[long_starts + 3] == 45) & (data[long_starts + 6] == 45)  # 45: "-"
    other[long_starts[dashed] + 3] = False  # expected there: not a reason to reject
    other[long_starts[dashed] + 6] = False
    shaped = lengths == 9
    shaped[long[dashed]] = True
    return shaped & ~_rows_flagged(other, offsets)


def decimal_shape(column: pa.Array) -> pa.Array:
    """Whether each value matches :data:`DECIMAL_RE` (null where null)."""
    return _shaped(column, _DECIMAL_PYTHON_RE, _decimal_shape_of_bytes)


def _decimal_shape_of_bytes(column: pa.Array) -> np.ndarray:
    """:func:`decimal_shape` on the bytes (anything where null).

    That is an optional sign, then ASCII digits around at most one dot: 1-16 digits before it and
    0-2 after it, or none before it and 1-2 after it.
    """
    offsets, data = string_buffers(column)
    starts, lengths = offsets[:-1], np.diff(offsets)
    first = np.take(data, starts, mode="clip") if len(data) else np.zeros(len(starts), np.uint8)
    signed = (lengths > 0) & ((first == 43) | (first == 45))  # "+", "-"
    dot = _np_int(pc.find_substring(column, "."), -1)  # byte index of the first dot
    has_dot = dot >= 0
    other = (data - np.uint8(48)) > 9  # not an ASCII digit
    other[(starts + dot)[has_dot]] = False  # expected there; a second dot stays flagged
    other[starts[signed]] = False
    before = np.where(has_dot, dot, lengths) - signed
    after = np.where(has_dot, lengths - dot - 1, 0)
    shaped = np.where(before == 0, after >= 1, before <= 16) & (after <= 2)
    return shaped & ~_rows_flagged(other, offsets)


def _np_int(values: pa.Array, null_as: int) -> np.ndarray:
    """An integer pyarrow array as numpy, nulls as ``null_as``."""
    if values.null_count:
        values = pc.fill_null(values, null_as)
    return values.to_numpy(zero_copy_only=False)


def _ssn_digits(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Valid SSNs (see ssn_shape) without their dashes.

    For many values cutting bytes 6 and 3 of the 11-byte ones is twice as fast as
    replace_substring("-"); up to :data:`FEW_VALUES` that one kernel is cheaper than the six
    of the cut (13 µs against 74 µs at 140 rows).
    """
    if len(column) <= FEW_VALUES:
        return pc.replace_substring(column, "-", "")
    lengths = pc.binary_length(column)
    if (pc.max(lengths).as_py() or 0) <= 9:
        return column
    cut = pc.binary_replace_slice(pc.binary_replace_slice(column, 6, 7, ""), 3, 4, "")
    return pc.if_else(pc.equal(lengths, 11), cut, column)


class _ChunkCheck:
    """The state of validating one chunk: values, who is rejected already, reject rows."""

    def __init__(self, values: dict[str, pa.Array], numbers: pa.Array):
        self.values = values
        self.numbers = numbers
        #: Decimal field -> float64 values (NaN where absent or malformed), see _check_decimal.
        self.decimals: dict[str, np.ndarray] = {}
        self.rejected = np.zeros(len(numbers), dtype=bool)
        self.rejects: list[pa.Table] = []

    def fail(self, field: str, rule: str, message: str, failing: np.ndarray) -> None:
        """Reject the records in ``failing`` not rejected yet, for ``field``/``rule``."""
        if not failing.any():  # the common case, settled by one numpy call instead of three
            return
        newly = failing & ~self.rejected
        if not newly.any():
            return
        index = pa.array(np.flatnonzero(newly))
        values = mask_reject_values(field, pc.take(self.values[field], index))
        self.rejects.append(
            make_rejects(pc.take(self.numbers, index), field, rule, message, values)
        )
        self.rejected |= newly

    def present(self, field: str) -> np.ndarray:
        """Where ``field`` has a (non-empty) value."""
        column = self.values[field]
        if column.null_count == 0:
            return np.ones(len(column), dtype=bool)
        return _np(pc.is_valid(column))

    def require(self, field: str) -> None:
        """Reject records without a value for ``field``."""
        if self.values[field].null_count:
            self.fail(field, "required", f"{field} is required", ~self.present(field))

    def expect(self, field: str, matches: pa.Array, rule: str, message: str) -> pa.Array:
        """Reject present values where ``matches`` is false; ``matches`` (null: absent)."""
        # Counting is free (a bitmap popcount); no conversion when nothing fails.
        if matches.false_count:
            self.fail(field, rule, message, ~_np(matches, null_as=True))
        return matches

    def fail_where(self, field: str, rule: str, message: str, failing: pa.Array) -> None:
        """:meth:`fail` for a kernel's boolean result, null as not failing."""
        if failing.true_count:
            self.fail(field, rule, message, _np(failing))


def _require_columns(raw: pa.Table, vendor: VendorProfile) -> None:
    """A file without a required vendor column is the wrong shape: it fails whole."""
    present = set(raw.column_names)  # a new list on every access: read it once
    missing = [
        vendor.fields[f]
        for f in CANONICAL_INPUT_FIELDS
        if f in vendor.fields
        and f not in OPTIONAL_CANONICAL_FIELDS
        and vendor.fields[f] not in present
    ]
    if missing:
        raise UnreadableFileError(f"the file has no column(s) {missing} for vendor {vendor.id}")


def _one_array(column: pa.ChunkedArray, type_: pa.DataType) -> pa.Array:
    """``column`` as one array of ``type_``.

    Readers give one chunk of the right type: taking it as it is skips a concatenation and a
    cast (~25 µs a column at 140 rows).
    """
    array = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    return array if array.type == type_ else array.cast(type_)


def _mapped_column(column: pa.Array) -> pa.Array:
    """The string ``column`` trimmed, empty values as null."""
    # Most files need neither step; checking the bytes is cheaper than doing them.
    offsets, data = string_buffers(column)
    if _may_need_trim(offsets, data):
        # ASCII trimming is safe on UTF-8 and four times faster than the Unicode one.
        column = pc.ascii_trim_whitespace(column)
        offsets, _ = string_buffers(column)
    empty = _empty_values(offsets)
    if empty.any():
        # A null is a null either way: the offsets say "empty" without an equal kernel.
        column = pc.if_else(pa.array(empty), _NULL_STRING, column)
    return column


def _mapped_columns(raw: pa.Table, vendor: VendorProfile) -> dict[str, pa.Array]:
    """Canonical name -> trimmed string column, empty values as null."""
    present = set(raw.column_names)  # a new list on every access: read it once
    values = {}
    for field in CANONICAL_INPUT_FIELDS:
        name = vendor.fields.get(field)
        if name is None or name not in present:
            values[field] = pa.nulls(raw.num_rows, pa.string())
        else:
            values[field] = _mapped_column(_one_array(raw.column(name), pa.string()))
    return values


def _check_identity(check: _ChunkCheck) -> None:
    check.require("provider_id")
    provider = check.values["provider_id"]
    # Same as ^[A-Za-z0-9]{1,20}$, several times faster than the regex kernel.
    ok = pc.and_(pc.ascii_is_alnum(provider), pc.less_equal(pc.binary_length(provider), 20))
    check.expect("provider_id", ok, "pattern", "provider_id must be 1-20 letters or digits")
    check.require("provider_name")
    names = check.values["provider_name"]
    # At most 100 bytes of UTF-8 is at most 100 characters: count characters only past that.
    if (pc.max(pc.binary_length(names)).as_py() or 0) > 100:
        too_long = pc.greater(pc.utf8_length(names), 100)
        check.fail_where("provider_name", "max_length", "provider_name is longer than 100", too_long)
    check.expect(
        "provider_ssn",
        ssn_shape(check.values["provider_ssn"]),
        "pattern",
        "provider_ssn must be 9 digits, as ddd-dd-dddd or ddddddddd",
    )
    check.require("recipient_id")


def _check_county(check: _ChunkCheck) -> pa.Array:
    check.require("county_code")
    column = check.values["county_code"]
    # Same as ^\d{1,9}$ (ascii_is_decimal is false for "" and any non-ASCII digit), ~8x faster.
    digits = pc.and_(pc.ascii_is_decimal(column), pc.less_equal(pc.binary_length(column), 9))
    ok = check.expect("county_code", digits, "integer", "county_code must be an integer")
    # The cast fails on a malformed value: blank those out first, unless there are none.
    numbers = pc.cast(column if not ok.false_count else pc.if_else(ok, column, _NULL_STRING), pa.int32())
    # As numpy (float64, NaN where null: compares false) two comparisons beat three kernels.
    values = numbers.to_numpy(zero_copy_only=False)
    check.fail("county_code", "range", "county_code must be 1..58", (values < 1) | (values > 58))
    return numbers


_DIRECTIVE_RE = {"%Y": r"\d{4}", "%y": r"\d{2}", "%m": r"\d{1,2}", "%d": r"(?P<day>\d{1,2})"}


@functools.lru_cache(maxsize=64)  # one per vendor: re.split on every chunk cost ~50 µs
def day_pattern(date_format: str) -> str | None:
    """A regex capturing the day of month of text in ``date_format``; None if unsupported."""
    parts = re.split(r"(%.)", date_format)
    if any(p.startswith("%") and p not in _DIRECTIVE_RE for p in parts):
        return None
    body = "".join(_DIRECTIVE_RE.get(p, re.escape(p)) for p in parts)
    return f"^{body}$"


@functools.lru_cache(maxsize=64)
def _day_regex(date_format: str) -> re.Pattern[str] | None:
    """:func:`day_pattern` for Python's re, matching what RE2 matches.

    ``re.ASCII``: RE2's ``\\d`` is ``[0-9]``, Python's any Unicode digit; ``fullmatch`` without the
    anchors: Python's ``$`` also matches before a final line feed, RE2's only at the end.
    """
    pattern = day_pattern(date_format)
    return None if pattern is None else re.compile(pattern[1:-1], re.ASCII)


def _strings_at(column: pa.Array, rows: np.ndarray) -> list[str]:
    """The (non-null) values at ``rows``, decoded from the bytes: no take kernel."""
    offsets, data = string_buffers(column)
    view = memoryview(data)
    starts, ends = offsets[rows].tolist(), offsets[rows + 1].tolist()
    return [str(view[start:end], "utf-8") for start, end in zip(starts, ends, strict=True)]


def _days_written_python(text: pa.Array, rows: np.ndarray, regex: re.Pattern[str]) -> np.ndarray:
    """The day of month written in each of ``rows``, -1 where the text does not match."""
    matches = [regex.fullmatch(value) for value in _strings_at(text, rows)]
    return np.array([int(m["day"]) if m else -1 for m in matches], dtype=np.int64)


def _days_written_re2(text: pa.Array, rows: np.ndarray, pattern: str) -> np.ndarray:
    """:func:`_days_written_python` by the extract_regex kernel: cheaper for many rows."""
    written = pc.extract_regex(pc.take(text, pa.array(rows)), pattern)
    return _np_int(pc.cast(pc.struct_field(written, "day"), pa.int64()), -1)


def _rolled_over(text: pa.Array, parsed: pa.Array, days: pa.Array, date_format: str) -> np.ndarray:
    """Rows whose parsed date is not the date written (``02-30`` read as March 2nd).

    strptime accepts any day 1..31 and rolls an impossible one over to day 1..3 of the next
    month, so only those rows are candidates: for them the day written is extracted with a
    regex built from the format and compared with the parsed day. Formats with other
    directives fall back to formatting the date back (slow, but only for the candidates).
    ``days`` are the parsed dates as date32: their day of month is 3x cheaper than a timestamp's.
    """
    # NaN where no date: compares false, so not a candidate.
    day_of_month = pc.day(days).to_numpy(zero_copy_only=False)
    candidates = np.flatnonzero(day_of_month <= 3)
    bad = np.zeros(len(text), dtype=bool)
    if len(candidates) == 0:
        return bad
    pattern = day_pattern(date_format)
    if pattern is None:
        index = pa.array(candidates)
        back = pc.strftime(pc.take(parsed, index), format=date_format)
        same = pc.equal(
            pc.replace_substring_regex(back, _LEADING_ZEROS_RE, r"\1\2"),
            pc.replace_substring_regex(pc.take(text, index), _LEADING_ZEROS_RE, r"\1\2"),
        )
        bad[candidates] = ~_np(same)
        return bad
    if len(candidates) <= FEW_VALUES:  # extract_regex compiles its pattern on every call: ~100 µs
        written = _days_written_python(text, candidates, _day_regex(date_format))
    else:
        written = _days_written_re2(text, candidates, pattern)
    bad[candidates] = written != day_of_month[candidates]
    return bad


def _check_work_date(check: _ChunkCheck, date_format: str, business_date: dt.date) -> pa.Array:
    check.require("work_date")
    text = check.values["work_date"]
    parsed = pc.strptime(text, format=date_format, unit="s", error_is_null=True)
    days = pc.cast(parsed, pa.date32())
    bad = _rolled_over(text, parsed, days, date_format)
    if parsed.null_count > text.null_count:  # else every present value parsed
        bad |= check.present("work_date") & ~_np(pc.is_valid(parsed))
    check.fail("work_date", "date_format", f"work_date is not a date in {date_format}", bad)
    earliest = business_date - dt.timedelta(days=WORK_DATE_WINDOW_DAYS)
    # datetime64[D], NaT where no date (compares false): two numpy comparisons, not 3 kernels.
    dates = days.to_numpy(zero_copy_only=False)
    outside = (dates > np.datetime64(business_date, "D")) | (dates < np.datetime64(earliest, "D"))
    message = f"work_date must be within {WORK_DATE_WINDOW_DAYS} days up to the business date"
    check.fail("work_date", "date_window", message, outside)
    return days


def _check_decimal(check: _ChunkCheck, field: str, low: Decimal, high: Decimal) -> None:
    """Decimal with at most two places; ``low < value`` for hours, ``low <= value`` else.

    The range is checked on float64: with two decimal places and at most 12 integer digits
    the comparisons with the bounds are exact, and the cast is much cheaper than decimal's.
    The floats are kept: :func:`_canonical` turns the kept ones into exact integer cents.
    """
    check.require(field)
    message = f"{field} must be a decimal with two places max"
    column = check.values[field]
    ok = check.expect(field, decimal_shape(column), "decimal", message)
    # The cast fails on a malformed value: blank those out first, unless there are none.
    numbers = pc.cast(column if not ok.false_count else pc.if_else(ok, column, _NULL_STRING), pa.float64())
    # NaN where null, which compares false: two numpy comparisons instead of three kernels.
    values = numbers.to_numpy(zero_copy_only=False)
    check.decimals[field] = values
    too_low = np.less_equal if field == "hours" else np.less
    outside = too_low(values, float(low)) | (values > float(high))
    bound = ">" if field == "hours" else ">="
    check.fail(field, "range", f"{field} must be {bound} {low} and <= {high}", outside)


def _check_service(check: _ChunkCheck) -> None:
    check.require("service_code")
    known = pc.is_in(check.values["service_code"], value_set=_SERVICE_CODES)
    message = f"service_code must be one of {', '.join(sorted(SERVICE_CODES))}"
    check.expect("service_code", known, "enum", message)


def validate_chunk(
    raw: pa.Table, vendor: VendorProfile, business_date: dt.date
) -> tuple[pa.Table, pa.Table]:
    """(valid canonical records, rejects) for one chunk read by a reader."""
    _require_columns(raw, vendor)
    if raw.num_rows == 0:
        return CANONICAL_SCHEMA.empty_table(), empty_rejects()
    numbers = _one_array(raw.column(RECORD_NUMBER), pa.int64())
    check = _ChunkCheck(_mapped_columns(raw, vendor), numbers)
    _check_identity(check)
    county = _check_county(check)
    days = _check_work_date(check, vendor.input.date_format, business_date)
    _check_decimal(check, "hours", Decimal(0), MAX_DAILY_HOURS)
    _check_decimal(check, "pay_rate", Decimal(0), MAX_PAY_RATE)
    _check_service(check)
    rejects = pa.concat_tables(check.rejects) if check.rejects else empty_rejects()
    return _canonical(check, county, days), rejects


def _cents(values: np.ndarray, keep: np.ndarray | None) -> np.ndarray:
    """Exact integer cents of kept float values that had at most two decimal places.

    Every kept value matched the two-places pattern and is below 10**10, so ``value * 100``
    is within far less than 0.5 of an integer and rounding gives the exact cents. None is NaN:
    the field is required, so a record without it is rejected (``keep`` is None only when no
    record is).
    """
    if keep is not None:
        values = values[keep]
    return np.rint(values * 100.0).astype(np.int64)


def decimal_from_cents(cents: np.ndarray, type_: pa.Decimal128Type) -> pa.Array:
    """A decimal128 array (scale 2) whose unscaled values are ``cents``; no cast, no copy loop."""
    words = np.empty((len(cents), 2), dtype=np.int64)
    words[:, 0] = cents  # little-endian 128-bit two's complement: low word, then sign
    words[:, 1] = cents >> 63
    return pa.Array.from_buffers(type_, len(cents), [None, pa.py_buffer(words)])


def _canonical(check: _ChunkCheck, county: pa.Array, days: pa.Array) -> pa.Table:
    """The kept rows, typed as in CANONICAL_SCHEMA, with the derived amount.

    Money is computed in integer cents (decimal128 arithmetic and string-to-decimal casts
    were the largest cost of validation): amount = round_half_up(hours_c * rate_c / 100),
    exact in int64 since hours_c <= 2,400 and rate_c < 10**12.
    """
    values = check.values
    keep = ~check.rejected if check.rejected.any() else None
    table = pa.table(
        {
            "provider_id": values["provider_id"],
            "provider_name": values["provider_name"],
            "provider_ssn": values["provider_ssn"],
            "recipient_id": values["recipient_id"],
            "county_code": county,
            "work_date": days,
            "service_code": values["service_code"],
            "record_number": check.numbers,
        }
    )
    if keep is not None:
        table = table.filter(pa.array(keep))
    hours = _cents(check.decimals["hours"], keep)
    rate = _cents(check.decimals["pay_rate"], keep)
    columns = {
        **{name: table.column(name) for name in table.column_names},
        "provider_ssn": _ssn_digits(table.column("provider_ssn")),
        "county_code": table.column("county_code").cast(pa.int16()),
        "hours": decimal_from_cents(hours, HOURS_TYPE),
        "pay_rate": decimal_from_cents(rate, PAY_RATE_TYPE),
        "amount": decimal_from_cents((hours * rate + 50) // 100, AMOUNT_TYPE),
    }
    return pa.table(
        {name: columns[name] for name in CANONICAL_SCHEMA.names}, schema=CANONICAL_SCHEMA
    )
