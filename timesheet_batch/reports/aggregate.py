"""Aggregates of processed records over a period, read column by column.

Only the ``processed/{date}/`` folders of the period's dates are listed, and only the
columns a report needs are read from each Parquet file (``ParquetFile.read(columns=...)``
decodes just those column chunks). Each file is reduced to a small partial aggregate at
once, so memory stays bounded by the number of groups, not the number of records.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq

from timesheet_batch.errors import TimesheetBatchError
from timesheet_batch.logsafe import safe
from timesheet_batch.reports.periods import Period
from timesheet_batch.storage import Storage, layout

log = logging.getLogger(__name__)

#: What the aggregate reports read: no names, no SSNs, no ids.
AGGREGATE_COLUMNS = ["county_code", "service_code", "hours", "amount"]
#: What the provider report reads (personal fields: masked before anything is written).
PROVIDER_COLUMNS = ["provider_id", "provider_name", "provider_ssn", "hours", "amount"]
_SUMS = [("hours", "sum"), ("amount", "sum"), ("hours", "count")]


@dataclass
class Aggregates:
    """Records, hours and amount in total and by county, vendor and service code."""

    files: int = 0
    records: int = 0
    hours: Decimal = Decimal("0.00")
    amount: Decimal = Decimal("0.00")
    by_county: list[dict] = field(default_factory=list)
    by_vendor: list[dict] = field(default_factory=list)
    by_service: list[dict] = field(default_factory=list)


def processed_files(storage: Storage, period: Period) -> Iterator[layout.FileKey]:
    """The processed Parquet files of the period's dates (one listing per date folder)."""
    for day in period.days():
        for info in storage.list(layout.processed_prefix(day)):
            if not info.key.endswith(layout.PROCESSED_SUFFIX):
                continue
            try:
                yield layout.parse_file_key(info.key)
            except TimesheetBatchError:  # not {date}/{vendor}/{file}: not ours to count
                log.warning("report: skipping unexpected key %s", safe(info.key))


def read_columns(storage: Storage, key: str, columns: list[str]) -> pa.Table:
    """Only ``columns`` of one Parquet file; a seekable stream is read in place."""
    with storage.open_read(key) as stream:
        # Local files seek, so only the wanted column chunks are read; an S3 stream does not.
        source = stream if stream.seekable() else pa.BufferReader(stream.read())
        return pq.ParquetFile(source).read(columns=columns)


def aggregate_period(storage: Storage, period: Period) -> Aggregates:
    """Totals of every processed record of the period, by county, vendor and service code."""
    partials = []
    files = 0
    for file_key in processed_files(storage, period):
        table = read_columns(storage, file_key.key, AGGREGATE_COLUMNS)
        files += 1
        if table.num_rows == 0:
            continue
        partial = table.group_by(["county_code", "service_code"]).aggregate(_SUMS)
        partials.append(partial.append_column("vendor_id", pa.array([file_key.vendor_id] * partial.num_rows)))
    result = Aggregates(files=files)
    if not partials:
        return result
    combined = pa.concat_tables(partials)
    result.by_county = _regroup(combined, "county_code")
    result.by_vendor = _regroup(combined, "vendor_id")
    result.by_service = _regroup(combined, "service_code")
    result.records = sum(row["records"] for row in result.by_county)
    result.hours = sum((row["hours"] for row in result.by_county), Decimal("0.00"))
    result.amount = sum((row["amount"] for row in result.by_county), Decimal("0.00"))
    return result


def _regroup(partials: pa.Table, key: str) -> list[dict]:
    grouped = partials.group_by(key).aggregate(
        [("hours_sum", "sum"), ("amount_sum", "sum"), ("hours_count", "sum")]
    ).sort_by(key)
    return [
        {key: row[key], "records": row["hours_count_sum"], "hours": row["hours_sum_sum"],
         "amount": row["amount_sum_sum"]}
        for row in grouped.to_pylist()
    ]


def provider_totals(storage: Storage, period: Period) -> pa.Table:
    """Records, hours and amount per provider (id, name, SSN) — unmasked: mask before use."""
    keys = ["provider_id", "provider_name", "provider_ssn"]
    partials = []
    for file_key in processed_files(storage, period):
        table = read_columns(storage, file_key.key, PROVIDER_COLUMNS)
        if table.num_rows:
            partials.append(table.group_by(keys, use_threads=False).aggregate(_SUMS))
    if not partials:
        schema = pa.schema([(k, pa.string()) for k in keys] + [
            ("records", pa.int64()), ("hours", pa.decimal128(38, 2)), ("amount", pa.decimal128(38, 2))])
        return schema.empty_table()
    grouped = pa.concat_tables(partials).group_by(keys, use_threads=False).aggregate(
        [("hours_sum", "sum"), ("amount_sum", "sum"), ("hours_count", "sum")]
    )
    table = pa.table({
        **{k: grouped[k] for k in keys},
        "records": grouped["hours_count_sum"],
        "hours": grouped["hours_sum_sum"],
        "amount": grouped["amount_sum_sum"],
    })
    return table.sort_by([("provider_id", "ascending")])
