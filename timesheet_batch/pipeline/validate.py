"""Validation and mapping of one raw chunk to canonical records (per-record rules only).

``validate_chunk(raw, vendor, business_date)`` maps the vendor's columns to canonical names,
checks the rules of ARCHITECTURE.md ("Canonical timesheet record") with vectorised
pyarrow.compute kernels — no Python loop over rows — and returns ``(valid, rejects)``:
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
import re
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from timesheet_batch.errors import UnreadableFileError
from timesheet_batch.formats.base import RECORD_NUMBER
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

_DECIMAL_RE = r"^[+-]?(\d{1,16}(\.\d{0,2})?|\.\d{1,2})$"
_LEADING_ZEROS_RE = r"(^|\D)0+(\d)"
_SERVICE_CODES = pa.array(sorted(SERVICE_CODES), pa.string())
_NULL_STRING = pa.scalar(None, pa.string())
_EMPTY = pa.scalar("", pa.string())


def _np(mask: pa.Array, null_as: bool = False) -> np.ndarray:
    """A pyarrow boolean array as a numpy bool array, nulls as ``null_as``."""
    return pc.fill_null(mask, null_as).to_numpy(zero_copy_only=False)


class _ChunkCheck:
    """The state of validating one chunk: values, who is rejected already, reject rows."""

    def __init__(self, values: dict[str, pa.Array], numbers: pa.Array):
        self.values = values
        self.numbers = numbers
        #: Decimal field -> float64 values (null where absent or malformed), see _check_decimal.
        self.decimals: dict[str, pa.Array] = {}
        self.rejected = np.zeros(len(numbers), dtype=bool)
        self.rejects: list[pa.Table] = []

    def fail(self, field: str, rule: str, message: str, failing: np.ndarray) -> None:
        """Reject the records in ``failing`` not rejected yet, for ``field``/``rule``."""
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
        return _np(pc.is_valid(self.values[field]))

    def require(self, field: str) -> None:
        """Reject records without a value for ``field``."""
        self.fail(field, "required", f"{field} is required", ~self.present(field))

    def match(self, field: str, pattern: str, rule: str, message: str) -> pa.Array:
        """Reject present values that do not match ``pattern``; the match array (null: absent)."""
        matches = pc.match_substring_regex(self.values[field], pattern)
        self.fail(field, rule, message, _np(pc.invert(matches)))
        return matches


def _require_columns(raw: pa.Table, vendor: VendorProfile) -> None:
    """A file without a required vendor column is the wrong shape: it fails whole."""
    missing = [
        vendor.fields[f]
        for f in CANONICAL_INPUT_FIELDS
        if f in vendor.fields
        and f not in OPTIONAL_CANONICAL_FIELDS
        and vendor.fields[f] not in raw.column_names
    ]
    if missing:
        raise UnreadableFileError(f"the file has no column(s) {missing} for vendor {vendor.id}")


def _mapped_columns(raw: pa.Table, vendor: VendorProfile) -> dict[str, pa.Array]:
    """Canonical name -> trimmed string column, empty values as null."""
    values = {}
    for field in CANONICAL_INPUT_FIELDS:
        name = vendor.fields.get(field)
        if name is None or name not in raw.column_names:
            values[field] = pa.nulls(raw.num_rows, pa.string())
            continue
        # ASCII trimming is safe on UTF-8 and four times faster than the Unicode one.
        column = pc.ascii_trim_whitespace(raw.column(name).combine_chunks().cast(pa.string()))
        values[field] = pc.if_else(pc.equal(column, _EMPTY), _NULL_STRING, column)
    return values


def _check_identity(check: _ChunkCheck) -> None:
    check.require("provider_id")
    provider = check.values["provider_id"]
    # Same as ^[A-Za-z0-9]{1,20}$, several times faster than the regex kernel.
    ok = pc.and_(pc.ascii_is_alnum(provider), pc.less_equal(pc.binary_length(provider), 20))
    check.fail(
        "provider_id", "pattern", "provider_id must be 1-20 letters or digits", _np(pc.invert(ok))
    )
    check.require("provider_name")
    too_long = _np(pc.greater(pc.utf8_length(check.values["provider_name"]), 100))
    check.fail("provider_name", "max_length", "provider_name is longer than 100", too_long)
    check.match(
        "provider_ssn",
        r"^(\d{3}-\d{2}-\d{4}|\d{9})$",
        "pattern",
        "provider_ssn must be 9 digits, as ddd-dd-dddd or ddddddddd",
    )
    check.require("recipient_id")


def _check_county(check: _ChunkCheck) -> pa.Array:
    check.require("county_code")
    ok = check.match("county_code", r"^\d{1,9}$", "integer", "county_code must be an integer")
    column = check.values["county_code"]
    numbers = pc.cast(
        pc.if_else(ok, column, _NULL_STRING),
        pa.int32(),
    )
    outside = pc.or_(pc.less(numbers, 1), pc.greater(numbers, 58))
    check.fail("county_code", "range", "county_code must be 1..58", _np(outside))
    return numbers


_DIRECTIVE_RE = {"%Y": r"\d{4}", "%y": r"\d{2}", "%m": r"\d{1,2}", "%d": r"(?P<day>\d{1,2})"}


def day_pattern(date_format: str) -> str | None:
    """A regex capturing the day of month of text in ``date_format``; None if unsupported."""
    parts = re.split(r"(%.)", date_format)
    if any(p.startswith("%") and p not in _DIRECTIVE_RE for p in parts):
        return None
    body = "".join(_DIRECTIVE_RE.get(p, re.escape(p)) for p in parts)
    return f"^{body}$"


def _rolled_over(text: pa.Array, parsed: pa.Array, date_format: str) -> np.ndarray:
    """Rows whose parsed date is not the date written (``02-30`` read as March 2nd).

    strptime accepts any day 1..31 and rolls an impossible one over to day 1..3 of the next
    month, so only those rows are candidates: for them the day written is extracted with a
    regex built from the format and compared with the parsed day. Formats with other
    directives fall back to formatting the date back (slow, but only for the candidates).
    """
    candidates = np.flatnonzero(_np(pc.less_equal(pc.day(parsed), 3)))
    bad = np.zeros(len(text), dtype=bool)
    if len(candidates) == 0:
        return bad
    index = pa.array(candidates)
    written, days = pc.take(text, index), pc.day(pc.take(parsed, index))
    pattern = day_pattern(date_format)
    if pattern is not None:
        written_day = pc.cast(
            pc.struct_field(pc.extract_regex(written, pattern), "day"), pa.int64()
        )
        same = pc.equal(written_day, days)
    else:
        back = pc.strftime(pc.take(parsed, index), format=date_format)
        same = pc.equal(
            pc.replace_substring_regex(back, _LEADING_ZEROS_RE, r"\1\2"),
            pc.replace_substring_regex(written, _LEADING_ZEROS_RE, r"\1\2"),
        )
    bad[candidates] = ~_np(same)
    return bad


def _check_work_date(check: _ChunkCheck, date_format: str, business_date: dt.date) -> pa.Array:
    check.require("work_date")
    text = check.values["work_date"]
    parsed = pc.strptime(text, format=date_format, unit="s", error_is_null=True)
    bad = (check.present("work_date") & ~_np(pc.is_valid(parsed))) | _rolled_over(
        text, parsed, date_format
    )
    check.fail("work_date", "date_format", f"work_date is not a date in {date_format}", bad)
    days = pc.cast(parsed, pa.date32())
    earliest = business_date - dt.timedelta(days=WORK_DATE_WINDOW_DAYS)
    outside = pc.or_(
        pc.greater(days, pa.scalar(business_date, pa.date32())),
        pc.less(days, pa.scalar(earliest, pa.date32())),
    )
    message = f"work_date must be within {WORK_DATE_WINDOW_DAYS} days up to the business date"
    check.fail("work_date", "date_window", message, _np(outside))
    return days


def _check_decimal(check: _ChunkCheck, field: str, low: Decimal, high: Decimal) -> None:
    """Decimal with at most two places; ``low < value`` for hours, ``low <= value`` else.

    The range is checked on float64: with two decimal places and at most 12 integer digits
    the comparisons with the bounds are exact, and the cast is much cheaper than decimal's.
    The floats are kept: :func:`_canonical` turns the kept ones into exact integer cents.
    """
    check.require(field)
    message = f"{field} must be a decimal with two places max"
    ok = check.match(field, _DECIMAL_RE, "decimal", message)
    column = check.values[field]
    numbers = pc.cast(
        pc.if_else(ok, column, _NULL_STRING),
        pa.float64(),
    )
    check.decimals[field] = numbers
    too_low = pc.less_equal if field == "hours" else pc.less
    outside = pc.or_(too_low(numbers, float(low)), pc.greater(numbers, float(high)))
    bound = ">" if field == "hours" else ">="
    check.fail(field, "range", f"{field} must be {bound} {low} and <= {high}", _np(outside))


def _check_service(check: _ChunkCheck) -> None:
    check.require("service_code")
    unknown = pc.invert(pc.is_in(check.values["service_code"], value_set=_SERVICE_CODES))
    message = f"service_code must be one of {', '.join(sorted(SERVICE_CODES))}"
    check.fail("service_code", "enum", message, _np(unknown))


def validate_chunk(
    raw: pa.Table, vendor: VendorProfile, business_date: dt.date
) -> tuple[pa.Table, pa.Table]:
    """(valid canonical records, rejects) for one chunk read by a reader."""
    _require_columns(raw, vendor)
    if raw.num_rows == 0:
        return CANONICAL_SCHEMA.empty_table(), empty_rejects()
    numbers = raw.column(RECORD_NUMBER).combine_chunks().cast(pa.int64())
    check = _ChunkCheck(_mapped_columns(raw, vendor), numbers)
    _check_identity(check)
    county = _check_county(check)
    days = _check_work_date(check, vendor.input.date_format, business_date)
    _check_decimal(check, "hours", Decimal(0), MAX_DAILY_HOURS)
    _check_decimal(check, "pay_rate", Decimal(0), MAX_PAY_RATE)
    _check_service(check)
    rejects = pa.concat_tables(check.rejects) if check.rejects else empty_rejects()
    return _canonical(check, county, days), rejects


def _cents(numbers: pa.Array, keep: np.ndarray | None) -> np.ndarray:
    """Exact integer cents of kept float values that had at most two decimal places.

    Every kept value matched the two-places pattern and is below 10**10, so ``value * 100``
    is within far less than 0.5 of an integer and rounding gives the exact cents.
    """
    values = pc.fill_null(numbers, 0.0).to_numpy(zero_copy_only=False)
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
        "provider_ssn": pc.replace_substring(table.column("provider_ssn"), "-", ""),
        "county_code": table.column("county_code").cast(pa.int16()),
        "hours": decimal_from_cents(hours, HOURS_TYPE),
        "pay_rate": decimal_from_cents(rate, PAY_RATE_TYPE),
        "amount": decimal_from_cents((hours * rate + 50) // 100, AMOUNT_TYPE),
    }
    return pa.table(
        {name: columns[name] for name in CANONICAL_SCHEMA.names}, schema=CANONICAL_SCHEMA
    )
