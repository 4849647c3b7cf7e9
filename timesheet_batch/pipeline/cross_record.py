"""Rules across all records of one file: ``duplicate`` and ``daily_hours_exceeded``.

Design (bounded memory for any file size):

1. The inbound pass writes every record that passed the per-record rules to a local temporary
   Parquet file, one row group per chunk. Nothing of the file is kept in memory.
2. :func:`find_cross_record_rejects` then reads only the six key columns back
   (provider_id, recipient_id, work_date, service_code, hours, record_number; about 50 bytes
   a record). Up to :data:`PARTITION_ROWS` valid records are grouped in one go. Larger files
   are first split by a hash of ``provider_id`` into spill Parquet files of about that many
   rows each; both rules group on keys that start with ``provider_id``, so every group lies in
   exactly one partition and partitions are decided independently. Peak memory is one
   partition of key columns plus arrow's hash tables, whatever the file size.
3. Each partition is grouped with one stable numpy sort of packed integer keys: a
   (provider_id, recipient_id,
   work_date, service_code) group of more than one record keeps its lowest record number and
   rejects the others as ``duplicate``; then, *without* the duplicates, a (provider_id,
   work_date) group whose hours sum to more than 24 has all its records rejected as
   ``daily_hours_exceeded``. Duplicates go first so that a repeated record does not also make
   the original exceed the daily limit. Grouping is exact (keys are compared, not hashes).
4. The caller filters the rejected record numbers (returned sorted) out of the temporary
   Parquet in a second streaming pass, or publishes it as is when there are none.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from timesheet_batch.pipeline.records import MAX_DAILY_HOURS, empty_rejects, make_rejects

#: Valid records grouped in memory at once; larger files are hash-partitioned on disk.
PARTITION_ROWS = 1_000_000
KEY_COLUMNS = ["provider_id", "recipient_id", "work_date", "service_code", "hours", "record_number"]


def find_cross_record_rejects(valid_path: Path, spill_dir: Path) -> tuple[np.ndarray, pa.Table]:
    """(sorted rejected record numbers, their reject rows) for the records in ``valid_path``."""
    parquet = pq.ParquetFile(valid_path)
    total = parquet.metadata.num_rows
    numbers: list[np.ndarray] = []
    rejects: list[pa.Table] = []
    for keys in _partitions(parquet, total, spill_dir):
        part_numbers, part_rejects = _group_rules(keys)
        numbers.append(part_numbers)
        rejects.append(part_rejects)
    if not numbers:
        return np.empty(0, np.int64), empty_rejects()
    return np.sort(np.concatenate(numbers)), pa.concat_tables(rejects)


def _partitions(parquet: pq.ParquetFile, total: int, spill_dir: Path) -> Iterator[pa.Table]:
    """Key-column tables such that no group spans two of them."""
    if total == 0:
        return
    count = math.ceil(total / PARTITION_ROWS)
    if count == 1:
        yield parquet.read(columns=KEY_COLUMNS)
        return
    paths = [spill_dir / f"partition-{i:04d}.parquet" for i in range(count)]
    writers = [pq.ParquetWriter(p, parquet.schema_arrow.select(KEY_COLUMNS)) for p in paths]
    try:
        for index in range(parquet.num_row_groups):
            keys = parquet.read_row_group(index, columns=KEY_COLUMNS)
            ids = keys.column("provider_id").to_numpy(zero_copy_only=False)
            target = pd.util.hash_array(ids) % np.uint64(count)
            for part, writer in enumerate(writers):
                writer.write_table(keys.filter(pa.array(target == part)))
    finally:
        for writer in writers:
            writer.close()
    for path in paths:
        yield pq.read_table(path)
        path.unlink()


def _dense(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, int]:
    """(dense int64 codes 0..k-1, k) for a column; equal values get equal codes."""
    if pa.types.is_date(column.type):
        days = column.cast(pa.int32()).to_numpy().astype(np.int64)
        low = int(days.min())
        return days - low, int(days.max()) - low + 1
    encoded = pa.chunked_array(column).combine_chunks().dictionary_encode()
    return encoded.indices.to_numpy().astype(np.int64), max(1, len(encoded.dictionary))


def _sorted_keys(keys: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row order, duplicate key, provider-day key), both keys in that order.

    The four key columns become dense integer codes packed into one int64 per row, provider
    and day most significant, so one stable sort groups duplicates *and* provider-days, and
    keeps file order inside a group. Packing needs the code ranges' product below 2**63,
    which partitions of PARTITION_ROWS records always meet (about 2**49 at most).
    """
    packed = np.zeros(keys.num_rows, dtype=np.int64)
    radix = 1
    day_radix = 1
    for name in ("provider_id", "work_date", "recipient_id", "service_code"):
        codes, size = _dense(keys.column(name))
        if radix * size >= 2**63:
            raise OverflowError("cross-record key does not fit in 64 bits; lower PARTITION_ROWS")
        packed = packed * size + codes
        radix *= size
        if name in ("recipient_id", "service_code"):
            day_radix *= size
    order = np.argsort(packed, kind="stable")
    packed = packed[order]
    return order, packed, packed // day_radix


def _run_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """True where a run of equal keys begins."""
    starts = np.ones(len(sorted_keys), dtype=bool)
    starts[1:] = sorted_keys[1:] != sorted_keys[:-1]
    return starts


def _group_rules(keys: pa.Table) -> tuple[np.ndarray, pa.Table]:
    """Apply both rules to one partition; (rejected record numbers, reject rows)."""
    order, dup_key, day_key = _sorted_keys(keys)
    numbers = keys.column("record_number").to_numpy()[order]
    dup_starts = _run_starts(dup_key)
    first = numbers[dup_starts][np.cumsum(dup_starts) - 1]  # first record of each row's group
    is_dup = ~dup_starts
    hours = keys.column("hours").cast(pa.float64()).to_numpy()[order]
    cents = np.where(is_dup, 0, np.rint(hours * 100).astype(np.int64))
    day_starts = _run_starts(day_key)
    sums = np.add.reduceat(cents, np.flatnonzero(day_starts))
    row_sums = sums[np.cumsum(day_starts) - 1]
    over = ~is_dup & (row_sums > int(MAX_DAILY_HOURS) * 100)
    rejects = pa.concat_tables(
        [
            _duplicate_rejects(numbers[is_dup], first[is_dup]),
            _daily_rejects(numbers[over], cents[over], row_sums[over]),
        ]
    )
    return rejects.column("record_number").to_numpy(), rejects


def _as_money(cents: np.ndarray) -> pa.Array:
    """Integer cents as ``"12.50"`` strings."""
    units = pc.cast(pa.array(cents // 100), pa.string())
    part = pc.utf8_lpad(pc.cast(pa.array(cents % 100), pa.string()), width=2, padding="0")
    return pc.binary_join_element_wise(units, part, ".")


def _duplicate_rejects(numbers: np.ndarray, first: np.ndarray) -> pa.Table:
    if len(numbers) == 0:
        return empty_rejects()
    first_text = pc.cast(pa.array(first), pa.string())
    message = pc.binary_join_element_wise(
        "repeats provider_id, recipient_id, work_date and service_code of record ", first_text, ""
    )
    return make_rejects(pa.array(numbers), "record", "duplicate", message, first_text)


def _daily_rejects(numbers: np.ndarray, cents: np.ndarray, sums: np.ndarray) -> pa.Table:
    if len(numbers) == 0:
        return empty_rejects()
    message = pc.binary_join_element_wise(
        "hours of this provider on this work_date sum to ", _as_money(sums), ", over 24", ""
    )
    return make_rejects(pa.array(numbers), "hours", "daily_hours_exceeded", message, _as_money(cents))


def drop_records(table: pa.Table, rejected: np.ndarray) -> pa.Table:
    """``table`` without the rows whose record_number is in sorted ``rejected``."""
    numbers = table.column("record_number")
    if len(rejected) == 0 or table.num_rows == 0:
        return table
    low, high = pc.min(numbers).as_py(), pc.max(numbers).as_py()
    # Only the slice of reject numbers inside this row group's range matters.
    window = rejected[np.searchsorted(rejected, low) : np.searchsorted(rejected, high, "right")]
    if len(window) == 0:
        return table
    return table.filter(pc.invert(pc.is_in(numbers, value_set=pa.array(window))))
