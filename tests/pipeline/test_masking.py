"""Masking strategies and reject value masking."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa

from timesheet_batch.pipeline.masking import REDACTED, keyed_hash, mask_table, mask_value

TABLE = pa.table(
    {
        "provider_id": ["P1", "P2", "P1"],
        "provider_name": ["Jane Doe", "Ève  van Dijk", None],
        "provider_ssn": ["123456789", "987654321", None],
        "work_date": pa.array([dt.date(2026, 11, 1)] * 3, pa.date32()),
        "amount": pa.array([Decimal("1.50")] * 3, pa.decimal128(18, 2)),
    }
)


def test_none_leaves_columns_untouched():
    assert mask_table(TABLE, {"provider_ssn": "none"}, b"k").equals(TABLE)


def test_last4_ssn_and_other_fields():
    masked = mask_table(TABLE, {"provider_ssn": "last4", "provider_id": "last4"}, b"k")
    assert masked.column("provider_ssn").to_pylist() == ["***-**-6789", "***-**-4321", None]
    assert masked.column("provider_id").to_pylist() == ["***P1", "***P2", "***P1"]


def test_initials():
    masked = mask_table(TABLE, {"provider_name": "initials"}, b"k")
    assert masked.column("provider_name").to_pylist() == ["J. D.", "È. v. D.", None]


def test_hash_is_keyed_stable_and_joinable():
    one = mask_table(TABLE, {"provider_id": "hash"}, b"key-1").column("provider_id").to_pylist()
    again = mask_table(TABLE, {"provider_id": "hash"}, b"key-1").column("provider_id").to_pylist()
    other = mask_table(TABLE, {"provider_id": "hash"}, b"key-2").column("provider_id").to_pylist()
    assert one == again and one[0] == one[2] and one[0] != one[1]
    assert len(one[0]) == 16 and one[0] == keyed_hash("P1", b"key-1")
    assert other[0] != one[0]


def test_redact_keeps_nulls():
    masked = mask_table(TABLE, {"provider_ssn": "redact", "provider_name": "redact"}, b"k")
    assert masked.column("provider_ssn").to_pylist() == [REDACTED, REDACTED, None]


def test_non_string_fields_mask_to_strings():
    masked = mask_table(TABLE, {"work_date": "redact", "amount": "hash"}, b"k")
    assert masked.column("work_date").to_pylist()[0] == REDACTED
    assert masked.column("amount").to_pylist()[0] == keyed_hash("1.50", b"k")


def test_mask_value_for_rejects():
    assert mask_value("provider_ssn", "123-45-6789") == "***-**-6789"
    assert mask_value("provider_name", "Jane Q Public") == "J. Q. P."
    assert mask_value("hours", "25") == "25"
    assert mask_value("hours", "9" * 500) == "9" * 64
    assert mask_value("provider_ssn", None) is None
