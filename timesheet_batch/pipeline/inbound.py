"""The inbound stage runner: one vendor file -> processed Parquet (+ rejects CSV).

Flow (all local work happens in one temporary directory, removed in every case)::

    storage.open_read(key) -> reader chunks -> validate_chunk -> valid.parquet (row group/chunk)
                                                             -> rejects.csv
    valid.parquet -> cross_record (duplicate, daily_hours_exceeded) -> processed.parquet
    reject ratio check -> publish processed + rejects atomically (or fail)

Nothing is published until the whole file has been read and checked, so a cancelled or failed
run leaves storage as it was — except a file over its reject limit: its rejects are published
(the vendor needs them) and any processed output of an earlier run of the same file is deleted,
so the nightly export cannot pick up data that no longer stands.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from timesheet_batch.errors import BadFileError, RejectLimitExceededError
from timesheet_batch.formats import get_reader
from timesheet_batch.formats.base import WriterSession
from timesheet_batch.formats.csv_format import CsvWriter
from timesheet_batch.pipeline.cross_record import drop_records, find_cross_record_rejects
from timesheet_batch.pipeline.records import CANONICAL_SCHEMA, REJECT_COLUMNS
from timesheet_batch.pipeline.validate import validate_chunk
from timesheet_batch.storage import layout
from timesheet_batch.storage.base import Storage
from timesheet_batch.vendors.profile import FormatOptions, VendorProfile

_REJECTS_OPTIONS = FormatOptions(format="csv")


@dataclass(frozen=True)
class ChunkProgress:
    """Progress after one chunk: its 0-based index and running totals for the file."""

    chunk_index: int
    records_read: int
    records_rejected: int


@dataclass
class FileOutcome:
    """What one file run produced (inbound or outbound)."""

    records_read: int
    records_written: int
    records_rejected: int
    output_key: str | None
    rejects_key: str | None
    rejects_by_rule: dict[str, int] = field(default_factory=dict)


@dataclass
class _RunState:
    """Mutable totals of one inbound run."""

    records_read: int = 0
    by_rule: Counter = field(default_factory=Counter)

    @property
    def records_rejected(self) -> int:
        return sum(self.by_rule.values())


def _rule_counts(rejects: pa.Table) -> Counter:
    counts = pc.value_counts(rejects.column("rule").combine_chunks())
    return Counter({item["values"]: item["counts"] for item in counts.to_pylist()})


def process_inbound_file(
    *,
    storage: Storage,
    vendor: VendorProfile,
    key: str,
    business_date: dt.date,
    chunk_size: int,
    on_chunk: Callable[[ChunkProgress], None] | None = None,
) -> FileOutcome:
    """Validate and map one inbound file; publish processed and rejects outputs.

    Raises UnreadableFileError (bad bytes, wrong shape), RejectLimitExceededError (more than
    ``vendor.max_reject_ratio`` of the records rejected) or whatever ``on_chunk`` raises
    (e.g. JobCancelledError); in those cases no processed output is published.
    """
    file_name = key.rsplit("/", 1)[-1]
    processed_key = layout.processed_key(business_date, vendor.id, file_name)
    rejects_key = layout.rejects_key(business_date, vendor.id, file_name)
    try:
        with tempfile.TemporaryDirectory(prefix="timesheet-inbound-") as tmp:
            work = Path(tmp)
            state = _RunState()
            with CsvWriter().open(work / "rejects.csv", _REJECTS_OPTIONS, REJECT_COLUMNS) as rej:
                _first_pass(storage, vendor, key, business_date, chunk_size, on_chunk, work, state, rej)
                final = _cross_record_pass(work, state, rej)
            return _publish(storage, vendor, state, final, work / "rejects.csv",
                            processed_key, rejects_key)
    except BadFileError as exc:
        if exc.key is None:
            exc.key = key
        raise


def _first_pass(storage, vendor, key, business_date, chunk_size, on_chunk, work, state, rej):
    """Read, validate and spill every chunk; call ``on_chunk`` after each."""
    reader = get_reader(vendor.input.format)
    with storage.open_read(key) as stream, pq.ParquetWriter(
        work / "valid.parquet", CANONICAL_SCHEMA
    ) as valid_writer:
        chunks = reader.read_chunks(stream, vendor.input, chunk_size)
        for index, raw in enumerate(chunks):
            valid, rejects = validate_chunk(raw, vendor, business_date)
            valid_writer.write_table(valid, row_group_size=max(chunk_size, 1))
            state.records_read += raw.num_rows
            if rejects.num_rows:
                rej.write(rejects)
                state.by_rule.update(_rule_counts(rejects))
            if on_chunk is not None:
                on_chunk(ChunkProgress(index, state.records_read, state.records_rejected))


def _cross_record_pass(work: Path, state: _RunState, rej: WriterSession) -> Path:
    """Apply the whole-file rules; the path of the Parquet file to publish."""
    valid_path = work / "valid.parquet"
    rejected, rejects = find_cross_record_rejects(valid_path, work)
    if len(rejected) == 0:
        return valid_path
    rej.write(rejects)
    state.by_rule.update(_rule_counts(rejects))
    final_path = work / "processed.parquet"
    source = pq.ParquetFile(valid_path)
    with pq.ParquetWriter(final_path, CANONICAL_SCHEMA) as writer:
        for index in range(source.num_row_groups):
            kept = drop_records(source.read_row_group(index), rejected)
            writer.write_table(kept.cast(CANONICAL_SCHEMA), row_group_size=max(kept.num_rows, 1))
    return final_path


def _publish(storage, vendor, state, final, rejects_path, processed_key, rejects_key):
    """Check the reject ratio, then publish (or fail, publishing the rejects only)."""
    read, rejected = state.records_read, state.records_rejected
    ratio = rejected / read if read else 0.0
    if rejected:
        storage.publish_file(rejects_path, rejects_key)
    else:
        storage.delete(rejects_key)  # a stale one from an earlier run of this file
    if ratio > vendor.max_reject_ratio:
        storage.delete(processed_key)
        raise RejectLimitExceededError(
            f"{rejected} of {read} records rejected ({ratio:.2%}), over the limit of "
            f"{vendor.max_reject_ratio:.2%} for vendor {vendor.id}"
        )
    storage.publish_file(final, processed_key)
    return FileOutcome(
        records_read=read,
        records_written=read - rejected,
        records_rejected=rejected,
        output_key=processed_key,
        rejects_key=rejects_key if rejected else None,
        rejects_by_rule=dict(state.by_rule),
    )
