"""Rules across all records of one file: ``duplicate`` and ``daily_hours_exceeded``.

Design (bounded memory for any file size):

1. The inbound pass appends every record that passed the per-record rules to a
   :class:`~timesheet_batch.pipeline.spool.ValidSpool`: in memory up to ``MEMORY_ROWS``
   records, beyond that in a local temporary Parquet file (one row group per chunk).
2. :func:`find_cross_record_rejects` then takes only the six key columns (provider_id,
   recipient_id, work_date, service_code, hours, record_number; about 50 bytes a record).
   A spool still in memory is grouped in one go, and so is a spilled one of up to
   :data:`PARTITION_ROWS` records. Larger spilled files are first split by a hash of
   ``provider_id`` into spill Parquet files of about that many rows each. Both rules group
   on keys that start with ``provider_id``, so every group lies in exactly one partition and
   partitions are decided independently: peak memory is one partition of key columns plus a
   few int64 arrays, whatever the file size.
3. Each partition is grouped with stable numpy sorts of packed integer codes (see
   :func:`_group_rules`). A (provider_id, recipient_id, work_date, service_code) group of
   more than one record keeps its first record and rejects the others as ``duplicate``.
   Then, *without* the duplicates, a (provider_id, work_date) group whose hours sum to more
   than 24 has all its records rejected as ``daily_hours_exceeded``. Duplicates go first so
   that a repeated record does not also push the original over the daily limit. Grouping is
   exact: keys are compared, not hashed (the hash only picks a partition).
4. The caller filters the rejected record numbers (returned sorted) out of the spool's
   chunks while it writes the one processed Parquet file.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from timesheet_batch.pipeline.records import (
    CANONICAL_SCHEMA,
    MAX_DAILY_HOURS,
    empty_rejects,
    make_rejects,
)
from timesheet_batch.pipeline.spool import ValidSpool

#: Valid records grouped at once in a spilled file; larger ones are hash-partitioned on disk.
PARTITION_ROWS = 500_000
KEY_COLUMNS = ["provider_id", "recipient_id", "work_date", "service_code", "hours", "record_number"]


def find_cross_record_rejects(
    spool: ValidSpool, spill_dir: Path | None, sink: Callable[[pa.Table], None] | None = None
) -> tuple[np.ndarray, pa.Table]:
    """(sorted rejected record numbers, their reject rows) for the records in ``spool``.

    ``spill_dir`` is only used for a spool that spilled (None: it cannot have).
    With ``sink``, each partition's reject rows go to it as soon as they are known and the
    returned table is empty: a file with many rejects then never holds them all in memory.
    """
    numbers: list[np.ndarray] = []
    rejects: list[pa.Table] = []
    for keys in _partitions(spool, spill_dir):
        part_numbers, part_rejects = _group_rules(keys)
        numbers.append(part_numbers)
        if sink is None:
            rejects.append(part_rejects)
        elif part_rejects.num_rows:
            sink(part_rejects)
    if not numbers:
        return np.empty(0, np.int64), empty_rejects()
    return np.sort(np.concatenate(numbers)), pa.concat_tables(rejects or [empty_rejects()])


def _partitions(spool: ValidSpool, spill_dir: Path | None) -> Iterator[pa.Table]:
    """Key-column tables such that no group spans two of them."""
    if spool.num_rows == 0:
        return
    count = math.ceil(spool.num_rows / PARTITION_ROWS)
    if count == 1 or spool.in_memory:  # in memory already: grouping adds little on top
        yield pa.concat_tables(spool.chunks(KEY_COLUMNS))
        return
    paths = [spill_dir / f"partition-{i:04d}.parquet" for i in range(count)]
    schema = pa.schema([CANONICAL_SCHEMA.field(name) for name in KEY_COLUMNS])
    writers = [pq.ParquetWriter(p, schema, compression="none") for p in paths]
    try:
        for keys in spool.chunks(KEY_COLUMNS):
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
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded = column.dictionary_encode()
    return encoded.indices.to_numpy().astype(np.int64), max(1, len(encoded.dictionary))


def _pack(parts: list[tuple[np.ndarray, int]]) -> np.ndarray:
    """Mixed-radix packing of dense codes into one int64 (first part most significant)."""
    packed = np.zeros(len(parts[0][0]), dtype=np.int64)
    radix = 1
    for codes, size in parts:
        radix *= size
        if radix >= 2**63:
            raise OverflowError("cross-record key does not fit in 64 bits; lower PARTITION_ROWS")
        packed = packed * size + codes
    return packed


def _run_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """True where a run of equal keys begins."""
    starts = np.ones(len(sorted_keys), dtype=bool)
    starts[1:] = sorted_keys[1:] != sorted_keys[:-1]
    return starts


def _group_rules(keys: pa.Table) -> tuple[np.ndarray, pa.Table]:
    """Apply both rules to one partition; (rejected record numbers, reject rows).

    Rows are sorted once by packed (provider, day) codes — a stable sort, so file order is kept
    inside a group. Duplicates can only occur inside provider-days of two or more records, so
    only those rows pay for encoding recipient and service code.
    """
    if keys.num_rows == 0:
        return np.empty(0, np.int64), empty_rejects()
    day_key = _pack([_dense(keys.column("provider_id")), _dense(keys.column("work_date"))])
    order = np.argsort(day_key, kind="stable")
    day_starts = _run_starts(day_key[order])
    run_id = np.cumsum(day_starts) - 1
    numbers = keys.column("record_number").to_numpy()[order]
    is_dup, first = _find_duplicates(keys, order, run_id, numbers)
    hours = keys.column("hours").cast(pa.float64()).to_numpy()[order]
    cents = np.where(is_dup, 0, np.rint(hours * 100).astype(np.int64))
    row_sums = np.add.reduceat(cents, np.flatnonzero(day_starts))[run_id]
    over = ~is_dup & (row_sums > int(MAX_DAILY_HOURS) * 100)
    rejects = pa.concat_tables(
        [
            _duplicate_rejects(numbers[is_dup], first[is_dup]),
            _daily_rejects(numbers[over], cents[over], row_sums[over]),
        ]
    )
    return rejects.column("record_number").to_numpy(), rejects


def _find_duplicates(keys, order, run_id, numbers) -> tuple[np.ndarray, np.ndarray]:
    """(is a later duplicate, record number of its group's first) in sorted row order."""
    is_dup = np.zeros(len(order), dtype=bool)
    first = numbers.copy()
    in_multi = np.bincount(run_id)[run_id] > 1
    candidates = np.flatnonzero(in_multi)
    if len(candidates) == 0:
        return is_dup, first
    rows = pa.array(order[candidates])
    dup_key = _pack(
        [
            (run_id[candidates], int(run_id[-1]) + 1),
            _dense(pc.take(keys.column("recipient_id"), rows)),
            _dense(pc.take(keys.column("service_code"), rows)),
        ]
    )
    sub_order = np.argsort(dup_key, kind="stable")
    starts = _run_starts(dup_key[sub_order])
    positions = candidates[sub_order]
    group_first = numbers[positions][starts][np.cumsum(starts) - 1]
    is_dup[positions[~starts]] = True
    first[positions[~starts]] = group_first[~starts]
    return is_dup, first


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
    return make_rejects(
        pa.array(numbers), "hours", "daily_hours_exceeded", message, _as_money(cents)
    )


def drop_records(table: pa.Table, rejected: np.ndarray) -> pa.Table:
    """``table`` without the rows whose record_number is in sorted ``rejected``."""
    if len(rejected) == 0 or table.num_rows == 0:
        return table
    numbers = table.column("record_number").to_numpy()
    low, high = numbers.min(), numbers.max()
    # Only the slice of reject numbers inside this row group's range matters.
    window = rejected[np.searchsorted(rejected, low) : np.searchsorted(rejected, high, "right")]
    if len(window) == 0:
        return table
    # numpy's isin over a narrow integer range is a table lookup: ~10x cheaper than pc.is_in.
    return table.filter(pa.array(~np.isin(numbers, window)))
