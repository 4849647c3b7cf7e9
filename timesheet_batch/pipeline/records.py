"""The canonical timesheet record and the reject record, as pyarrow schemas.

Processed Parquet files hold :data:`CANONICAL_SCHEMA`; reject files hold
:data:`REJECTS_SCHEMA` (written as CSV: ``record_number,field,rule,message,value``). A reject's
``value`` is always masked (see :func:`timesheet_batch.pipeline.masking.mask_value`), so a
rejects file never carries a raw SSN or a full name.
"""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa

#: The service codes a timesheet may carry.
SERVICE_CODES: frozenset[str] = frozenset({"PCS", "DOM", "MEAL", "TRANS", "PARA", "PROT"})

HOURS_TYPE = pa.decimal128(6, 2)
PAY_RATE_TYPE = pa.decimal128(12, 2)
AMOUNT_TYPE = pa.decimal128(18, 2)
MAX_DAILY_HOURS = Decimal("24")
#: Largest pay rate decimal128(12, 2) can hold.
MAX_PAY_RATE = Decimal("9999999999.99")
#: How far back a work date may lie before the business date.
WORK_DATE_WINDOW_DAYS = 62

CANONICAL_SCHEMA = pa.schema(
    [
        pa.field("provider_id", pa.string(), nullable=False),
        pa.field("provider_name", pa.string(), nullable=False),
        pa.field("provider_ssn", pa.string()),  # 9 digits, null when absent
        pa.field("recipient_id", pa.string(), nullable=False),
        pa.field("county_code", pa.int16(), nullable=False),
        pa.field("work_date", pa.date32(), nullable=False),
        pa.field("hours", HOURS_TYPE, nullable=False),
        pa.field("pay_rate", PAY_RATE_TYPE, nullable=False),
        pa.field("service_code", pa.string(), nullable=False),
        pa.field("amount", AMOUNT_TYPE, nullable=False),  # hours × pay_rate, half-up
        pa.field("record_number", pa.int64(), nullable=False),
    ]
)

REJECTS_SCHEMA = pa.schema(
    [
        pa.field("record_number", pa.int64()),
        pa.field("field", pa.string()),
        pa.field("rule", pa.string()),
        pa.field("message", pa.string()),
        pa.field("value", pa.string()),  # masked, never raw personal data
    ]
)

REJECT_COLUMNS: list[str] = REJECTS_SCHEMA.names


_EMPTY_REJECTS = REJECTS_SCHEMA.empty_table()


def empty_rejects() -> pa.Table:
    """A rejects table with no rows (one shared instance: tables are immutable)."""
    return _EMPTY_REJECTS


def make_rejects(
    record_numbers: pa.Array,
    field: str,
    rule: str,
    message: str | pa.Array,
    values: pa.Array | None = None,
) -> pa.Table:
    """Reject rows for ``record_numbers``, one field/rule, a shared or per-row message."""
    n = len(record_numbers)
    if isinstance(message, str):
        message = pa.array([message] * n, pa.string())
    if values is None:
        values = pa.nulls(n, pa.string())
    return pa.Table.from_arrays(
        [
            record_numbers.cast(pa.int64()),
            pa.array([field] * n, pa.string()),
            pa.array([rule] * n, pa.string()),
            message,
            values,
        ],
        schema=REJECTS_SCHEMA,
    )
