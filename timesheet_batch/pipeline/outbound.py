"""The outbound stage runner: one processed Parquet file -> the vendor's outbound file.

The processed file is read into memory if it is small, else copied to a local temporary file
(Parquet needs random access; an object store stream may not seek), and read ``chunk_size``
rows at a time, so memory stays bounded. Each chunk is masked with the role's policy,
converted to the vendor's field names (dates in ``vendor.output.date_format``, decimals with
two places, plus ``AMOUNT``) and written with the vendor's output writer (in memory for a
small file, see run_outputs.py); the finished file is published atomically to
``outbound/{vendor}/{date}/{inbound stem}{extension}``.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable, Mapping
from pathlib import PurePosixPath

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from timesheet_batch.formats import get_writer
from timesheet_batch.pipeline.inbound import FileOutcome, is_small_input
from timesheet_batch.pipeline.masking import mask_table
from timesheet_batch.pipeline.progress import ChunkProgress
from timesheet_batch.pipeline.run_outputs import RunOutputs, input_size
from timesheet_batch.storage import layout
from timesheet_batch.storage.base import Storage
from timesheet_batch.vendors.profile import CANONICAL_INPUT_FIELDS, MaskStrategy, VendorProfile

AMOUNT_COLUMN = "AMOUNT"
OUTBOUND_OUTPUT = "outbound"


def output_columns(vendor: VendorProfile) -> list[str]:
    """The vendor's field names in canonical order, then ``AMOUNT``."""
    names = [vendor.fields[f] for f in CANONICAL_INPUT_FIELDS if f in vendor.fields]
    return [*names, AMOUNT_COLUMN]


def to_vendor_table(table: pa.Table, vendor: VendorProfile) -> pa.Table:
    """A (masked) canonical table as string columns named by the vendor's fields + AMOUNT."""
    arrays, names = [], []
    for canonical in (*CANONICAL_INPUT_FIELDS, "amount"):
        if canonical != "amount" and canonical not in vendor.fields:
            continue
        column = table.column(canonical)
        if pa.types.is_date(column.type):
            column = pc.strftime(column.cast(pa.timestamp("s")), format=vendor.output.date_format)
        elif not pa.types.is_string(column.type):
            # Decimals keep their scale when cast: 8 hours is "8.00".
            column = pc.cast(column, pa.string())
        arrays.append(column)
        names.append(vendor.fields.get(canonical, AMOUNT_COLUMN))
    return pa.Table.from_arrays(arrays, names=names)


def outbound_file_name(processed_key: str, vendor: VendorProfile) -> str:
    """``{inbound file stem}{output extension}`` for a processed key."""
    source = layout.parse_file_key(processed_key).source_name
    return PurePosixPath(source).stem + get_writer(vendor.output.format).extension


def _random_access(source, outputs: RunOutputs) -> pq.ParquetFile:
    """The processed file opened for random access: in memory if small, else a local copy."""
    if outputs.in_memory:
        return pq.ParquetFile(pa.BufferReader(source.read()))
    local = outputs.work_dir / "processed.parquet"
    with open(local, "wb") as target:
        shutil.copyfileobj(source, target, length=1024 * 1024)
    return pq.ParquetFile(local)


def export_processed_file(
    *,
    storage: Storage,
    vendor: VendorProfile,
    policy: Mapping[str, MaskStrategy],
    masking_key: bytes,
    processed_key: str,
    business_date: dt.date,
    chunk_size: int,
    on_chunk: Callable[[ChunkProgress], None] | None = None,
) -> FileOutcome:
    """Write the vendor's outbound file for one processed file; publish it atomically.

    ``on_chunk`` is called after every chunk and once more right before publishing; if it
    raises (e.g. JobCancelledError) nothing is published and the error propagates.
    """
    writer = get_writer(vendor.output.format)
    out_key = layout.outbound_key(
        business_date, vendor.id, outbound_file_name(processed_key, vendor)
    )
    with (
        storage.open_read(processed_key) as source,
        RunOutputs(in_memory=is_small_input(input_size(source))) as outputs,
    ):
        parquet = _random_access(source, outputs)
        written = last_index = 0
        with writer.open(outputs.target(OUTBOUND_OUTPUT), vendor.output, output_columns(vendor)) as session:
            for index, batch in enumerate(parquet.iter_batches(batch_size=chunk_size)):
                masked = mask_table(pa.Table.from_batches([batch]), policy, masking_key)
                session.write(to_vendor_table(masked, vendor))
                written += batch.num_rows
                last_index = index
                if on_chunk is not None:
                    on_chunk(ChunkProgress(index, written, 0))
        if on_chunk is not None:  # the last chance to stop before the file is published
            on_chunk(ChunkProgress(last_index, written, 0, final=True))
        outputs.publish(storage, {OUTBOUND_OUTPUT: out_key})
    return FileOutcome(
        records_read=written,
        records_written=written,
        records_rejected=0,
        output_key=out_key,
        rejects_key=None,
    )
