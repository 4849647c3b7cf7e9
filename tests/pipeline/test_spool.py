"""The valid-record spool: memory first, a local Parquet file past its limit or for a large input."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa

from timesheet_batch.pipeline import spool
from timesheet_batch.pipeline.records import CANONICAL_SCHEMA
from timesheet_batch.pipeline.spool import ValidSpool

_RECORD = {
    "provider_id": "P1", "provider_name": "N", "provider_ssn": "123456789", "recipient_id": "R1",
    "county_code": 1, "work_date": dt.date(2026, 11, 20), "service_code": "HC", "hours": Decimal("8.00"),
    "pay_rate": Decimal("20.00"), "amount": Decimal("160.00"), "record_number": 2,
}


def _rows(n: int) -> pa.Table:
    return pa.Table.from_pylist([_RECORD] * n, schema=CANONICAL_SCHEMA)


def test_records_stay_in_memory_up_to_the_limit_then_spill(tmp_path) -> None:
    held = ValidSpool(tmp_path / "valid.parquet", memory_rows=5)
    held.append(_rows(3))
    assert held.in_memory
    held.append(_rows(3))
    assert not held.in_memory and held.num_rows == 6
    held.finish()
    assert sum(t.num_rows for t in held.chunks()) == 6
    held.close()
    assert not (tmp_path / "valid.parquet").exists()


def test_a_large_input_spills_from_its_first_chunk(tmp_path) -> None:
    big = ValidSpool(tmp_path / "big.parquet")
    big.plan_for(spool.SPILL_INPUT_BYTES + 1)
    big.append(_rows(1))
    assert not big.in_memory
    for size in (None, spool.SPILL_INPUT_BYTES):  # unknown (an S3 body) or not larger: memory first
        small = ValidSpool(tmp_path / f"small-{size}.parquet")
        small.plan_for(size)
        small.append(_rows(1))
        assert small.in_memory
