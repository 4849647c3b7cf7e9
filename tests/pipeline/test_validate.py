"""Per-record rules of validate_chunk: one failing and one passing value per rule."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timesheet_batch.errors import UnreadableFileError
from timesheet_batch.formats import RECORD_NUMBER
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
