"""Fast paths of validation and the cross-record rules against their straightforward definitions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timesheet_batch.pipeline import cross_record, validate
from timesheet_batch.pipeline.records import CANONICAL_SCHEMA

# Characters that matter to the rules, white space, and non-ASCII digits and letters.
_CHARS = "0123456789-+.e x\t\n\r\x0b\x0caé١²\u3000\xa0"
_TEXT = st.one_of(st.none(), st.text(alphabet=_CHARS, max_size=13), st.text(max_size=4))
_SSNS = [
    "123-45-6789", "123456789", "123-45-678", "12345678a", "123--45-6789", "12-345-6789",
    "1234567890", "12345678901", "123 45 6789", "123-456-789", "１２３４５６７８９", "", None,
]


def _arrays(values: list[str | None]) -> list[pa.Array]:
    """The values as a plain array and as a slice of a longer one (non-zero offset)."""
    return [pa.array(values, pa.string()), pa.array(["pad", *values], pa.string()).slice(1)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_TEXT, st.sampled_from(_SSNS)), max_size=20))
def test_ssn_shape_is_the_regex(values):
    for array in _arrays(values):
        assert validate.ssn_shape(array).equals(pc.match_substring_regex(array, validate.SSN_RE))


def test_ssn_shape_edge_cases():
    array = pa.array(_SSNS, pa.string())
    assert validate.ssn_shape(array).to_pylist() == [
        True, True, False, False, False, False, False, False, False, False, False, False, None,
    ]
    assert validate.ssn_shape(pa.nulls(3, pa.string())).to_pylist() == [None] * 3


_DECIMALS = [
    ".5", "1.", "+1.25", "-1", "1e3", "0x10", " 7.5 ", "8.125", "24", "-0", "+.5", "-.5", ".", "+", "-",
    "1..5", "1.2.3", "..5", "1.5.", "+-1", ".+5", "12345678901234567", "1234567890123456",
    "1234567890123456.99", "12345678901234567.9", "0001.50", "8,5", "٣", "é.5", "", None,
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_TEXT, st.sampled_from(_DECIMALS), st.decimals(places=2).map(str)), max_size=20))
def test_decimal_shape_is_the_regex(values):
    for array in _arrays(values):
        assert validate.decimal_shape(array).equals(pc.match_substring_regex(array, validate.DECIMAL_RE))


def test_decimal_shape_edge_cases():
    shapes = validate.decimal_shape(pa.array(_DECIMALS, pa.string())).to_pylist()
    accepted = [value for value, ok in zip(_DECIMALS, shapes, strict=True) if ok]
    assert accepted == [".5", "1.", "+1.25", "-1", "24", "-0", "+.5", "-.5", "1234567890123456",
                        "1234567890123456.99", "0001.50"]
    assert shapes[-1] is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_SSNS), st.from_regex(validate.SSN_RE, fullmatch=True)), max_size=20))
def test_ssn_digits_drop_the_dashes_of_valid_ssns(values):
    valid = [v for v in values if v is not None and validate.ssn_shape(pa.array([v]))[0].as_py()]
    for array in _arrays([*valid, None]):
        assert validate._ssn_digits(array).equals(pc.replace_substring(array, "-", ""))


def _straightforward_mapping(array: pa.Array) -> pa.Array:
    trimmed = pc.ascii_trim_whitespace(array)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


@settings(max_examples=300, deadline=None)
@given(st.lists(_TEXT, max_size=20))
def test_skipping_trim_and_empty_checks_changes_nothing(values):
    for array in _arrays(values):
        raw = pa.table({"EMP": array, "__record_number": pa.array(range(len(values)), pa.int64())})
        mapped = validate._mapped_columns(raw, _VENDOR)["provider_id"]
        assert mapped.equals(_straightforward_mapping(array))


@pytest.mark.parametrize(
    "values",
    [["a", "b"], [" a", "b"], ["a", "b\t"], ["", "b"], ["Renée", " José "], ["a", "", None], [""], [" "]],
)
def test_trim_and_empty_edge_cases(values):
    raw = pa.table({"EMP": pa.array(values, pa.string())})
    assert validate._mapped_columns(raw, _VENDOR)["provider_id"].equals(
        _straightforward_mapping(pa.array(values, pa.string()))
    )


class _Vendor:
    fields = {"provider_id": "EMP"}


_VENDOR = _Vendor()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(_TEXT, st.integers(0, 10**11).map(str)), max_size=20))
def test_county_integer_check_is_the_regex(values):
    for array in _arrays(values):
        nonempty = pc.if_else(pc.equal(array, ""), pa.scalar(None, pa.string()), array)
        check = validate._ChunkCheck({"county_code": nonempty}, pa.array(range(len(values)), pa.int64()))
        numbers = validate._check_county(check)
        expected = pc.match_substring_regex(nonempty, r"^\d{1,9}$")
        failed = {r["record_number"] for t in check.rejects for r in t.to_pylist() if r["rule"] == "integer"}
        assert failed == {i for i, ok in enumerate(expected.to_pylist()) if ok is False}
        assert numbers.is_valid().to_pylist() == [ok is True for ok in expected.to_pylist()]


def test_name_length_counts_characters_not_bytes():
    from tests.pipeline.test_validate import check

    assert check(NAME="é" * 100)[1] == []  # 200 bytes, 100 characters
    assert [r["rule"] for r in check(NAME="é" * 101)[1]] == ["max_length"]
    assert [r["rule"] for r in check(NAME="x" * 101)[1]] == ["max_length"]


def _keys(rng: np.random.Generator, n: int) -> pa.Table:
    providers = rng.integers(0, int(rng.integers(1, 40)), n)
    return pa.table(
        {
            "provider_id": pa.array([f"P{p}" + ("é" if p % 4 == 0 else "") for p in providers]),
            "recipient_id": pa.array([f"R{x}" for x in rng.integers(0, 3, n)]),
            "work_date": pa.array(
                [dt.date(2026, 11, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 3, n)],
                pa.date32(),
            ),
            "service_code": pa.array(rng.choice(["PCS", "DOM", "MEAL"], n).tolist()),
            "hours": pa.array(
                [Decimal(int(q)) / 4 for q in rng.integers(1, 60, n)], CANONICAL_SCHEMA.field("hours").type
            ),
            "record_number": pa.array(np.arange(2, 2 + n) * int(rng.integers(1, 3))),
        }
    )


@pytest.mark.parametrize("seed", range(10))
def test_drop_records_is_the_set_difference(seed):
    rng = np.random.default_rng(seed)
    table = _keys(rng, 200)
    rejected = np.sort(rng.choice(np.arange(0, 500), int(rng.integers(0, 50)), replace=False))
    kept = cross_record.drop_records(table, rejected)
    expected = table.filter(pc.invert(pc.is_in(table.column("record_number"), pa.array(rejected, pa.int64()))))
    assert kept.equals(expected)

