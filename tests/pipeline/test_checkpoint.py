"""Checkpoint and resume: a run stopped mid-file resumes after its last committed chunk and
its output equals an uninterrupted run's, every record exactly once."""

from __future__ import annotations

import datetime as dt
import logging

import pyarrow.parquet as pq
import pytest

from timesheet_batch.pipeline import process_inbound_file
from timesheet_batch.pipeline.checkpoint import ChunkCheckpoint
from timesheet_batch.sample_data import generate_sample_files
from timesheet_batch.settings import PACKAGED_VENDORS_FILE
from timesheet_batch.storage import LocalStorage
from timesheet_batch.vendors import load_catalog

DAY = dt.date(2026, 11, 20)


class Crash(Exception):
    """Stands in for a worker dying mid-file."""


@pytest.fixture
def setup(tmp_path):
    storage = LocalStorage(tmp_path)
    catalog = load_catalog(PACKAGED_VENDORS_FILE)
    (sample,) = generate_sample_files(storage, catalog, business_date=DAY, files=1, records=2_000,
                                      formats=["csv"], bad_ratio=0.03, seed=4)
    return storage, catalog.get(sample.vendor_id), sample


def _run(storage, vendor, sample, checkpoint, crash_at=None):
    def on_chunk(progress):
        if crash_at is not None and progress.chunk_index == crash_at:
            raise Crash()

    return process_inbound_file(storage=storage, vendor=vendor, key=sample.key, business_date=DAY,
                                chunk_size=100, on_chunk=on_chunk, checkpoint=checkpoint)


def test_a_resumed_run_skips_committed_chunks_and_loses_nothing(setup, caplog):
    storage, vendor, sample = setup
    first = ChunkCheckpoint(storage, job_id="job-1", content="v1", may_resume=False)
    with pytest.raises(Crash):
        _run(storage, vendor, sample, first, crash_at=7)
    assert not storage.exists(f"processed/{DAY}/{vendor.id}/{sample.key.rsplit('/', 1)[1]}.parquet")

    again = ChunkCheckpoint(storage, job_id="job-1", content="v1", may_resume=True)
    assert again.committed() == 7  # chunks 0..6; chunk 7 was not committed (lazy commits)
    with caplog.at_level(logging.INFO):
        outcome = _run(storage, vendor, sample, again)
    assert "resuming after 7 committed chunk(s)" in caplog.text
    assert outcome.records_read == sample.records
    assert outcome.records_rejected == sample.expected_rejects
    resumed = pq.read_table(storage.root / outcome.output_key)
    numbers = resumed.column("record_number").to_pylist()
    assert len(numbers) == len(set(numbers)) == sample.records - sample.expected_rejects
    assert not list(storage.list("staging/"))  # cleared after publishing

    fresh = _run(storage, vendor, sample, ChunkCheckpoint(storage, job_id="job-2", content="v1", may_resume=True))
    assert pq.read_table(storage.root / fresh.output_key).equals(resumed)


def test_parts_of_another_content_are_not_resumed(setup):
    storage, vendor, sample = setup
    with pytest.raises(Crash):
        _run(storage, vendor, sample, ChunkCheckpoint(storage, job_id="job-1", content="v1", may_resume=False),
             crash_at=5)
    changed = ChunkCheckpoint(storage, job_id="job-1", content="v2", may_resume=True)
    assert changed.committed() == 0


def test_a_single_chunk_file_never_stages_anything(setup):
    storage, vendor, sample = setup
    checkpoint = ChunkCheckpoint(storage, job_id="job-3", content="v1", may_resume=False)
    process_inbound_file(storage=storage, vendor=vendor, key=sample.key, business_date=DAY,
                         chunk_size=10_000, checkpoint=checkpoint)
    assert not checkpoint._wrote
