"""The inbound stage runner: one vendor file -> processed Parquet (+ rejects CSV).

Flow (a small input's outputs are written in memory, a larger one's in a temporary
directory removed in every case; see run_outputs.py)::

    storage.open_read(key) -> reader chunks -> validate_chunk -> valid records spool
                                                             -> rejects.csv
    (ValidSpool: memory, or valid.parquet past a million records)
    spool -> cross_record (duplicate, daily_hours_exceeded) -> processed.parquet
    reject ratio check -> publish processed + rejects atomically (or fail)

Nothing is published until the whole file has been read and checked, so a cancelled or failed
run leaves storage as it was — except a file over its reject limit: its rejects are published
(the vendor needs them) and any processed output of an earlier run of the same file is deleted,
so the nightly export cannot pick up data that no longer stands.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from timesheet_batch.errors import BadFileError, RejectLimitExceededError
from timesheet_batch.formats import get_reader
from timesheet_batch.formats.base import WriterSession
from timesheet_batch.formats.csv_format import CsvWriter
from timesheet_batch.logsafe import safe
from timesheet_batch.pipeline.checkpoint import ChunkCheckpoint
from timesheet_batch.pipeline.cross_record import drop_records, find_cross_record_rejects
from timesheet_batch.pipeline.prefetch import ordered_map, prefetched
from timesheet_batch.pipeline.progress import ChunkProgress
from timesheet_batch.pipeline.records import CANONICAL_SCHEMA, REJECT_COLUMNS
from timesheet_batch.pipeline.run_outputs import RunOutputs, input_size
from timesheet_batch.pipeline.spool import ValidSpool
from timesheet_batch.pipeline.validate import validate_chunk
from timesheet_batch.storage import layout
from timesheet_batch.storage.base import Storage
from timesheet_batch.vendors.profile import FormatOptions, VendorProfile

log = logging.getLogger(__name__)
_REJECTS_OPTIONS = FormatOptions(format="csv")
#: The names of a run's two outputs (see run_outputs.py).
REJECTS_OUTPUT, PROCESSED_OUTPUT = "rejects.csv", "processed.parquet"
#: Records per chunk. Measured on 1M ACME records (2 cores): 100k was fastest (50k ~10-20%
#: slower, 200k no faster) and peak RSS stays under 500 MB.
DEFAULT_CHUNK_SIZE = 100_000
#: Files up to this size are read and validated in the calling thread. Measured on
#: 140-record files (2 cores, 2 worker processes): the prefetch thread and the validation
#: pool cost ~3 ms per file to start and join, more than a small file takes to validate.
INLINE_INPUT_BYTES = 2 * 1024 * 1024


def is_small_input(size: int | None) -> bool:
    """Whether an input of ``size`` bytes (None: unknown) is small: read in the calling thread,
    its outputs kept in memory (run_outputs.py)."""
    return size is not None and size <= INLINE_INPUT_BYTES
#: Chunks validated at once (threads). Measured on 1M CSV records, 2 cores: see BENCHMARKS.md.
VALIDATE_THREADS = 2
#: Valid records (held in memory) from which the processed write runs one chunk behind a
#: thread that prepares it; smaller files are not worth the thread.
OVERLAP_WRITE_ROWS = 200_000
#: The published file: snappy, dictionary pages only where values repeat a lot, statistics
#: only on the columns reports filter on (string statistics cost a third of the write time).
#: Measured on 1M records: provider_ssn (random digits) is stored uncompressed, as snappy took
#: 60% of its write time for a third less size (66 -> 28 ms, 8.0 -> 11.8 MB: publish copies 4 MB
#: more); record_number (ascending) is delta-encoded: 18 -> 6 ms and 4 MB -> 30 kB.
PROCESSED_PARQUET_OPTIONS = {
    "compression": {
        name: "none" if name == "provider_ssn" else "snappy" for name in CANONICAL_SCHEMA.names
    },
    "use_dictionary": ["service_code", "county_code", "work_date"],
    "column_encoding": {"record_number": "DELTA_BINARY_PACKED"},
    "write_statistics": ["county_code", "work_date", "record_number"],
}


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
    chunks: int = 0
    by_rule: Counter = field(default_factory=Counter)

    @property
    def records_rejected(self) -> int:
        """Records rejected so far, by any rule."""
        return sum(self.by_rule.values())

    def record(self, read: int, rejects: pa.Table, rej: WriterSession) -> None:
        """Count one chunk and log its rejects."""
        self.records_read += read
        self.chunks += 1
        if rejects.num_rows:
            rej.write(rejects)
            self.by_rule.update(_rule_counts(rejects))


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
    checkpoint: ChunkCheckpoint | None = None,
) -> FileOutcome:
    """Validate and map one inbound file; publish processed and rejects outputs.

    Raises UnreadableFileError (bad bytes, wrong shape), RejectLimitExceededError (more than
    ``vendor.max_reject_ratio`` of the records rejected) or whatever ``on_chunk`` raises
    (e.g. JobCancelledError); in those cases no processed output is published. With a
    ``checkpoint`` every chunk is committed as it is done and a rerun resumes after the
    last committed chunk (see checkpoint.py).
    """
    file_name = key.rsplit("/", 1)[-1]
    processed_key = layout.processed_key(business_date, vendor.id, file_name)
    rejects_key = layout.rejects_key(business_date, vendor.id, file_name)
    try:
        with storage.open_read(key) as stream:
            reading = _Reading(stream, input_size(stream), vendor, key, business_date, chunk_size, checkpoint)
            with RunOutputs(in_memory=reading.small) as outputs:
                state = _process(reading, on_chunk, outputs)
                if on_chunk is not None:  # the last chance to stop before anything is published
                    last = max(state.chunks - 1, 0)
                    on_chunk(ChunkProgress(last, state.records_read, state.records_rejected, final=True))
                outcome = _publish(storage, vendor, state, outputs, processed_key, rejects_key)
    except BadFileError as exc:
        if exc.key is None:
            exc.key = key
        if checkpoint is not None:  # the file itself is bad: a rerun must start afresh
            checkpoint.clear()
        raise
    if checkpoint is not None:
        checkpoint.clear()
    return outcome


@dataclass(frozen=True)
class _Reading:
    """What one inbound run reads (an open stream, its size if known), and where it commits."""

    stream: BinaryIO
    size: int | None
    vendor: VendorProfile
    key: str
    business_date: dt.date
    chunk_size: int
    checkpoint: ChunkCheckpoint | None

    @property
    def small(self) -> bool:
        """Whether the input is small: read and validated in the calling thread, outputs in memory."""
        return is_small_input(self.size)


def _process(reading: _Reading, on_chunk, outputs: RunOutputs) -> _RunState:
    """Read, validate, spool and cross-check the file; the processed output is written."""
    state = _RunState()
    work = outputs.work_dir
    spool = ValidSpool(work / "valid.parquet" if work is not None else None)
    spool.plan_for(reading.size)
    checkpoint = reading.checkpoint
    resumed = checkpoint.committed() if checkpoint is not None else 0
    try:
        with CsvWriter().open(outputs.target(REJECTS_OUTPUT), _REJECTS_OPTIONS, REJECT_COLUMNS) as rej:
            if resumed:
                log.info("%s: resuming after %d committed chunk(s)", safe(reading.key), resumed)
                for valid, rejects, read in checkpoint.load(resumed):
                    spool.append(valid)
                    state.record(read, rejects, rej)
            with closing(_read_validated(reading, skip=resumed)) as chunks:
                for index, (valid, rejects, read) in enumerate(chunks, start=resumed):
                    spool.append(valid)
                    state.record(read, rejects, rej)
                    if checkpoint is not None:
                        checkpoint.offer(index, valid, rejects, read)
                    if on_chunk is not None:
                        on_chunk(ChunkProgress(index, state.records_read, state.records_rejected))
            spool.finish()
            _write_processed(spool, outputs, state, rej)
            return state
    finally:
        spool.close()


def _read_validated(reading: _Reading, *, skip: int) -> Iterator[tuple[pa.Table, pa.Table, int]]:
    """(valid, rejects, records read) per chunk of the file, after the first ``skip`` chunks."""
    vendor, chunk_size = reading.vendor, reading.chunk_size
    business_date = reading.business_date
    reader = get_reader(vendor.input.format)

    # Committed chunks are parsed (to keep record numbers and boundaries) but not validated.
    def chunks():
        return itertools.islice(reader.read_chunks(reading.stream, vendor.input, chunk_size), skip, None)

    if reading.small:
        # A small file: starting the threads below would cost more than they overlap.
        for raw in chunks():
            yield (*validate_chunk(raw, vendor, business_date), raw.num_rows)
        return
    # Parse the next chunk in a thread while this one is validated (see prefetch.py).
    raws = prefetched(chunks)
    with closing(raws):
        # validate_chunk is mostly pyarrow kernels that release the GIL: two chunks at once.
        checked = ordered_map(
            lambda raw: (*validate_chunk(raw, vendor, business_date), raw.num_rows),
            raws,
            VALIDATE_THREADS,
        )
        with closing(checked):
            yield from checked


def _write_processed(spool: ValidSpool, outputs: RunOutputs, state: _RunState, rej: WriterSession) -> None:
    """Apply the whole-file rules and write the processed Parquet output."""
    def log_rejects(rejects: pa.Table) -> None:
        rej.write(rejects)
        state.by_rule.update(_rule_counts(rejects))

    # mimalloc keeps the blocks the reading threads freed; hand them back before the
    # cross-record pass allocates its own, or the peak RSS holds both (1M records in memory:
    # 538 -> 441 MB, at no measurable cost).
    pa.default_memory_pool().release_unused()
    rejected, _ = find_cross_record_rejects(spool, outputs.work_dir, sink=log_rejects)

    def kept_chunks():
        return (drop_records(chunk, rejected) for chunk in spool.chunks())

    # The write releases the GIL: drop the next chunk meanwhile. Not for a spilled spool: its
    # files are the large ones, bound by memory, and the chunk read ahead would add to the peak.
    overlap = spool.in_memory and spool.num_rows >= OVERLAP_WRITE_ROWS
    chunks = prefetched(kept_chunks) if overlap else kept_chunks()
    target = outputs.target(PROCESSED_OUTPUT)
    with closing(chunks), pq.ParquetWriter(target, CANONICAL_SCHEMA, **PROCESSED_PARQUET_OPTIONS) as writer:
        for kept in chunks:
            if kept.num_rows:
                writer.write_table(kept, row_group_size=kept.num_rows)


def _publish(storage, vendor, state, outputs: RunOutputs, processed_key, rejects_key):
    """Check the reject ratio, then publish (or fail, publishing the rejects only)."""
    read, rejected = state.records_read, state.records_rejected
    ratio = rejected / read if read else 0.0
    published = {REJECTS_OUTPUT: rejects_key} if rejected else {}
    if not rejected:
        storage.delete(rejects_key)  # a stale one from an earlier run of this file
    if ratio > vendor.max_reject_ratio:
        outputs.publish(storage, published)
        storage.delete(processed_key)
        raise RejectLimitExceededError(
            f"{rejected} of {read} records rejected ({ratio:.2%}), over the limit of "
            f"{vendor.max_reject_ratio:.2%} for vendor {vendor.id}"
        )
    outputs.publish(storage, {**published, PROCESSED_OUTPUT: processed_key})
    return FileOutcome(
        records_read=read,
        records_written=read - rejected,
        records_rejected=rejected,
        output_key=processed_key,
        rejects_key=rejects_key if rejected else None,
        rejects_by_rule=dict(state.by_rule),
    )
