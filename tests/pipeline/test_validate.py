"""Per-record rules of validate_chunk: one failing and one passing value per rule."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timesheet_batch.errors import UnreadableFileError
from timesheet_batch.formats import RECORD_NUMBER
from timesheet_batch.pipeline import validate
from timesheet_batch.pipeline.records import CANONICAL_SCHEMA, REJECTS_SCHEMA
from timesheet_batch.pipeline.validate import validate_chunk
from timesheet_batch.vendors import load_catalog

CATALOG = load_catalog(
    Path(__file__).parents[2] / "timesheet_batch" / "vendors" / "sample_vendors.yaml"
)
ACME = CATALOG.get("ACME")
BUSINESS_DATE = dt.date(2026, 11, 22)
GOOD = {
    "EMP": "P123",
    "NAME": "Jane Doe",
    "SSN": "123-45-6789",
    "CLIENT": "R1",
    "COUNTY": "7",
    "DATE": "2026-11-20",
    "HRS": "8.5",
    "RATE": "20.10",
    "SVC": "PCS",
}


def chunk(*records: dict, vendor_fields=None) -> pa.Table:
    names = list(vendor_fields or GOOD)
    columns = {n: [r.get(n, GOOD.get(n)) for r in records] for n in names}
    columns[RECORD_NUMBER] = list(range(2, 2 + len(records)))
    return pa.table(
        columns,
        schema=pa.schema(
            [*(pa.field(n, pa.string()) for n in names), pa.field(RECORD_NUMBER, pa.int64())]
        ),
    )


def check(**changes: str | None):
    valid, rejects = validate_chunk(chunk({**GOOD, **changes}), ACME, BUSINESS_DATE)
    return valid, rejects.to_pylist()


CASES = [
    # (vendor column, bad value, field, rule, good value)
    ("EMP", "", "provider_id", "required", "A1"),
    ("EMP", "P-1", "provider_id", "pattern", "ABCDEFGHIJ0123456789"),
    ("EMP", "A" * 21, "provider_id", "pattern", "Z9"),
    ("NAME", "  ", "provider_name", "required", "Li"),
    ("NAME", "x" * 101, "provider_name", "max_length", "x" * 100),
    ("SSN", "12-345-6789", "provider_ssn", "pattern", "123456789"),
    ("SSN", "12345678", "provider_ssn", "pattern", ""),
    ("CLIENT", "", "recipient_id", "required", "C-77/a"),
    ("COUNTY", "", "county_code", "required", "58"),
    ("COUNTY", "7a", "county_code", "integer", "07"),
    ("COUNTY", "0", "county_code", "range", "1"),
    ("COUNTY", "59", "county_code", "range", "58"),
    ("DATE", "", "work_date", "required", "2026-11-22"),
    ("DATE", "20/11/2026", "work_date", "date_format", "2026-11-1"),
    ("DATE", "2026-02-30", "work_date", "date_format", "2026-10-31"),
    ("DATE", "2026-11-23", "work_date", "date_window", "2026-11-22"),
    ("DATE", "2026-09-20", "work_date", "date_window", "2026-09-21"),
    ("HRS", "", "hours", "required", "24"),
    ("HRS", "8.125", "hours", "decimal", "8.12"),
    ("HRS", "eight", "hours", "decimal", ".5"),
    ("HRS", "0", "hours", "range", "0.01"),
    ("HRS", "24.01", "hours", "range", "24.00"),
    ("HRS", "-1", "hours", "range", "1"),
    ("RATE", "", "pay_rate", "required", "0"),
    ("RATE", "1,50", "pay_rate", "decimal", "1.5"),
    ("RATE", "-0.01", "pay_rate", "range", "0.00"),
    ("RATE", "10000000000.00", "pay_rate", "range", "9999999999.99"),
    ("SVC", "", "service_code", "required", "PROT"),
    ("SVC", "pcs", "service_code", "enum", "TRANS"),
]


@pytest.mark.parametrize(("column", "bad", "field", "rule", "good"), CASES)
def test_rule_rejects_bad_and_accepts_good(column, bad, field, rule, good):
    valid, rejects = check(**{column: bad})
    assert valid.num_rows == 0
    assert [(r["record_number"], r["field"], r["rule"]) for r in rejects] == [(2, field, rule)]
    valid, rejects = check(**{column: good})
    assert rejects == [] and valid.num_rows == 1


def test_canonical_types_ssn_normalised_and_amount_half_up():
    records = [
        {**GOOD, "HRS": "8.25", "RATE": "10.01"},  # 82.5825 -> 82.58
        {**GOOD, "HRS": "1.5", "RATE": "0.03", "SSN": "987654321"},  # 0.045 -> 0.05
        {**GOOD, "HRS": " 2 ", "RATE": "0", "SSN": ""},
    ]
    valid, rejects = validate_chunk(chunk(*records), ACME, BUSINESS_DATE)
    assert rejects.num_rows == 0
    assert valid.schema == CANONICAL_SCHEMA
    rows = valid.to_pylist()
    assert [r["amount"] for r in rows] == [Decimal("82.58"), Decimal("0.05"), Decimal("0.00")]
    assert [r["provider_ssn"] for r in rows] == ["123456789", "987654321", None]
    assert rows[0]["work_date"] == dt.date(2026, 11, 20)
    assert rows[0]["county_code"] == 7 and rows[0]["hours"] == Decimal("8.25")
    assert [r["record_number"] for r in rows] == [2, 3, 4]


def test_first_failing_rule_only_one_reject_per_record():
    valid, rejects = check(EMP="", DATE="bad", SVC="NOPE")
    assert [(r["field"], r["rule"]) for r in rejects] == [("provider_id", "required")]


def test_reject_values_are_masked():
    _, rejects = check(SSN="123-45-678")
    assert rejects[0]["value"] == "***-**-5678"
    _, rejects = check(NAME="Jane " + "Doe" * 40)
    assert rejects[0]["value"] == "J. D."
    assert set(rejects[0]) == set(REJECTS_SCHEMA.names)


def test_missing_required_column_is_unreadable_naming_it():
    fields = [n for n in GOOD if n != "CLIENT"]
    with pytest.raises(UnreadableFileError, match="CLIENT"):
        validate_chunk(chunk(GOOD, vendor_fields=fields), ACME, BUSINESS_DATE)


def test_missing_optional_ssn_column_is_fine():
    fields = [n for n in GOOD if n != "SSN"]
    valid, rejects = validate_chunk(chunk(GOOD, vendor_fields=fields), ACME, BUSINESS_DATE)
    assert rejects.num_rows == 0 and valid.column("provider_ssn").to_pylist() == [None]


@pytest.mark.parametrize(
    ("vendor_id", "good", "bad"),
    [
        ("BAYCARE", "20/11/2026", "30/02/2026"),
        ("DELTA", "20261120", "20261131"),
        ("CENTRAL", "11/20/2026", "02/29/2026"),
    ],
)
def test_vendor_date_formats(vendor_id, good, bad):
    vendor = CATALOG.get(vendor_id)
    record = {vendor.fields[f]: GOOD[ACME.fields[f]] for f in vendor.fields}
    record[vendor.fields["work_date"]] = good
    fields = list(record)
    valid, _ = validate_chunk(chunk(record, vendor_fields=fields), vendor, BUSINESS_DATE)
    assert valid.column("work_date").to_pylist() == [dt.date(2026, 11, 20)]
    record[vendor.fields["work_date"]] = bad
    _, rejects = validate_chunk(chunk(record, vendor_fields=fields), vendor, BUSINESS_DATE)
    assert rejects.column("rule").to_pylist() == ["date_format"]


_MONEY = st.tuples(st.integers(0, 9_999_999_999), st.integers(0, 99), st.sampled_from(["", ".", "0", "00"]))


def _money_text(units: int, cents: int, style: str) -> str:
    if style == ".":
        return f"{units}.{cents // 10}" if cents % 10 == 0 else f"{units}.{cents:02d}"
    return f"{units}.{cents:02d}" if style in ("", "00") else f"+{units}.{cents:02d}"


@settings(max_examples=200, deadline=None)
@given(
    hours=st.integers(1, 2400),
    rate=_MONEY,
)
def test_integer_cents_equal_exact_decimal_arithmetic(hours, rate):
    hours_text = f"{hours // 100}.{hours % 100:02d}"
    rate_text = _money_text(*rate)
    valid, rejects = validate_chunk(chunk({"HRS": hours_text, "RATE": rate_text}), ACME, BUSINESS_DATE)
    assert rejects.num_rows == 0
    [row] = valid.to_pylist()
    exact_rate = Decimal(rate_text)
    assert row["hours"] == Decimal(hours_text) and row["pay_rate"] == exact_rate
    expected = (Decimal(hours_text) * exact_rate).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    assert row["amount"] == expected


# Small-chunk fast paths (up to validate.FEW_VALUES values) against the big-chunk paths and the
# plain definitions: both sides are run by patching the threshold.

_BOTH_PATHS = (-1, 10**9)  # FEW_VALUES: always the big-chunk path, always the small one
_SHAPE_TEXT = st.one_of(
    st.none(),
    st.text(alphabet="0123456789-+. \n\té١", max_size=13),
    st.from_regex(validate.SSN_RE, fullmatch=True),
    st.decimals(places=2, allow_nan=False, allow_infinity=False).map(str),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_SHAPE_TEXT, max_size=30))
def test_ssn_and_decimal_shapes_are_the_regexes_on_both_paths(values):
    for array in (pa.array(values, pa.string()), pa.array(["pad", *values], pa.string()).slice(1)):
        for few in _BOTH_PATHS:
            with patch.object(validate, "FEW_VALUES", few):
                assert validate.ssn_shape(array).equals(pc.match_substring_regex(array, validate.SSN_RE))
                assert validate.decimal_shape(array).equals(
                    pc.match_substring_regex(array, validate.DECIMAL_RE)
                )


_VALID_SSN = r"[0-9]{3}-[0-9]{2}-[0-9]{4}|[0-9]{9}"  # SSN_RE as RE2 reads it (from_regex: any \d)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), st.from_regex(_VALID_SSN, fullmatch=True)), max_size=30))
def test_ssn_digits_are_the_same_on_both_paths(values):
    array = pa.array(values, pa.string())
    for few in _BOTH_PATHS:
        with patch.object(validate, "FEW_VALUES", few):
            assert validate._ssn_digits(array).equals(pc.replace_substring(array, "-", ""))


_DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%Y%m%d", "%d.%m.%y", "%Y-%m-%d %H", "%b %d %Y"]


@st.composite
def _written_dates(draw):
    """Text in or near a date format: real and impossible days, short fields, odd tails."""
    year, month, day = draw(st.integers(2020, 2030)), draw(st.integers(0, 13)), draw(st.integers(0, 35))
    text = draw(st.sampled_from(_DATE_FORMATS))
    for directive, value in (("%Y", f"{year}"), ("%y", f"{year % 100:02d}"), ("%H", "07"), ("%b", "Mar")):
        text = text.replace(directive, value)
    text = text.replace("%m", draw(st.sampled_from([f"{month:02d}", f"{month}"])))
    text = text.replace("%d", draw(st.sampled_from([f"{day:02d}", f"{day}", f"{day}١"])))
    return text + draw(st.sampled_from(["", "", "\n", "x", " "]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), _written_dates()), max_size=30), st.sampled_from(_DATE_FORMATS))
def test_rolled_over_python_re_is_the_extract_regex_kernel(values, date_format):
    text = pa.array(values, pa.string())
    parsed = pc.strptime(text, format=date_format, unit="s", error_is_null=True)
    days = pc.cast(parsed, pa.date32())
    results = []
    for few in (-1, 10**9):
        with patch.object(validate, "FEW_VALUES", few):
            results.append(validate._rolled_over(text, parsed, days, date_format).tolist())
    assert results[0] == results[1]
    # The day written, on every value (not only those strptime read): Python's re is RE2.
    regex, pattern = validate._day_regex(date_format), validate.day_pattern(date_format)
    rows = np.flatnonzero(text.is_valid().to_numpy(zero_copy_only=False))
    if pattern is not None and len(rows):
        python = validate._days_written_python(text, rows, regex)
        assert python.tolist() == validate._days_written_re2(text, rows, pattern).tolist()


def test_day_regex_reads_what_re2_reads():
    assert validate._day_regex("%Y-%m-%d").fullmatch("2026-03-01\n") is None  # RE2's $ is the end
    assert validate._day_regex("%Y-%m-%d").fullmatch("2026-03-١") is None  # RE2's \d is ASCII
    assert validate._day_regex("%d/%m/%Y").fullmatch("2/3/2026")["day"] == "2"
    assert validate._day_regex("%d %b %Y") is None


def test_several_failures_in_one_chunk_in_record_order_per_rule():
    records = [
        {**GOOD, "DATE": "2026-13-01"},  # not a date: null in the parsed dates
        {**GOOD, "DATE": "2026-11-30"},
        {**GOOD, "HRS": "abc"},  # malformed: NaN in the hours
        {**GOOD, "HRS": "25"},
        {**GOOD, "COUNTY": "x7"},
        {**GOOD, "COUNTY": "99"},
        {**GOOD, "RATE": "-1", "SVC": "X"},
        {**GOOD, "SSN": "12-345-6789"},
        {**GOOD, "SVC": "X"},
        {**GOOD, "DATE": "2026-02-29"},
        GOOD,
    ]
    valid, rejects = validate_chunk(chunk(*records), ACME, BUSINESS_DATE)
    assert [(r["record_number"], r["field"], r["rule"]) for r in rejects.to_pylist()] == [
        (9, "provider_ssn", "pattern"),
        (6, "county_code", "integer"),
        (7, "county_code", "range"),
        (2, "work_date", "date_format"),
        (11, "work_date", "date_format"),
        (3, "work_date", "date_window"),
        (4, "hours", "decimal"),
        (5, "hours", "range"),
        (8, "pay_rate", "range"),
        (10, "service_code", "enum"),
    ]
    assert valid.column("record_number").to_pylist() == [12]
