"""Deterministic sample files, exact expected rejects, sample -> inbound -> outbound trip."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.outbound_counts import count_records
from timesheet_batch.formats import READERS
from timesheet_batch.pipeline import export_processed_file, process_inbound_file
from timesheet_batch.sample_data import generate_sample_files
from timesheet_batch.storage import LocalStorage
from timesheet_batch.vendors import load_catalog

CATALOG = load_catalog(
    Path(__file__).parents[1] / "timesheet_batch" / "vendors" / "sample_vendors.yaml"
)
DAY = dt.date(2026, 11, 22)


def new_storage(root: Path) -> LocalStorage:
    root.mkdir()
    return LocalStorage(root)


def test_same_seed_same_bytes_and_readable_formats_by_default(tmp_path: Path):
    one, two = new_storage(tmp_path / "a"), new_storage(tmp_path / "b")
    first = generate_sample_files(
        one, CATALOG, business_date=DAY, files=3, records=50, bad_ratio=0.1, seed=7
    )
    again = generate_sample_files(
        two, CATALOG, business_date=DAY, files=3, records=50, bad_ratio=0.1, seed=7
    )
    assert first == again
    assert all(one.read_bytes(f.key) == two.read_bytes(f.key) for f in first)
    readable = {v.id for v in CATALOG.vendors if v.input.format in READERS}
    assert {f.vendor_id for f in first} <= readable
    assert first[0].key == "inbound/2026-11-22/ACME/ACME-00000.csv"


def test_round_robin_covers_every_priority(tmp_path: Path):
    formats = ["csv", "json", "ndjson", "xml", "fixed_width"]
    files = generate_sample_files(
        new_storage(tmp_path / "s"), CATALOG, business_date=DAY, files=6, records=5, formats=formats
    )
    priorities = [CATALOG.get(f.vendor_id).priority for f in files]
    assert priorities[:3] == ["high", "medium", "low"]
    assert {f.vendor_id for f in files} == {v.id for v in CATALOG.vendors}


@pytest.mark.parametrize("bad_ratio", [0.0, 0.05, 0.3])
def test_sample_inbound_outbound_counts_match(tmp_path: Path, bad_ratio: float):
    storage = new_storage(tmp_path / "s")
    files = generate_sample_files(
        storage, CATALOG, business_date=DAY, files=2, records=400, bad_ratio=bad_ratio, seed=3
    )
    for sample in files:
        vendor = CATALOG.get(sample.vendor_id).model_copy(update={"max_reject_ratio": 1.0})
        inbound = process_inbound_file(
            storage=storage, vendor=vendor, key=sample.key, business_date=DAY, chunk_size=64
        )
        assert inbound.records_read == sample.records
        assert inbound.records_rejected == sample.expected_rejects
        if bad_ratio == 0.0:
            assert sample.expected_rejects == 0
        assert pq.read_metadata(storage.root / inbound.output_key).num_rows == (
            sample.records - sample.expected_rejects
        )
        outbound = export_processed_file(
            storage=storage,
            vendor=vendor,
            policy=CATALOG.masking_for(vendor.role),
            masking_key=b"k",
            processed_key=inbound.output_key,
            business_date=DAY,
            chunk_size=100,
        )
        count = count_records(storage.root / outbound.output_key, vendor.output.format)
        assert count == outbound.records_written == sample.records - sample.expected_rejects


def test_bad_records_cover_every_rule(tmp_path: Path):
    storage = new_storage(tmp_path / "s")
    [sample] = generate_sample_files(
        storage, CATALOG, business_date=DAY, files=1, records=500, bad_ratio=0.1, seed=1
    )
    vendor = CATALOG.get(sample.vendor_id).model_copy(update={"max_reject_ratio": 1.0})
    outcome = process_inbound_file(
        storage=storage, vendor=vendor, key=sample.key, business_date=DAY, chunk_size=100
    )
    assert set(outcome.rejects_by_rule) == {
        "date_format",
        "date_window",
        "range",
        "required",
        "pattern",
        "enum",
        "duplicate",
        "daily_hours_exceeded",
    }


def test_zero_records_writes_empty_but_valid_files(tmp_path: Path):
    storage = new_storage(tmp_path / "s")
    files = generate_sample_files(storage, CATALOG, business_date=DAY, files=2, records=0)
    for sample in files:
        outcome = process_inbound_file(
            storage=storage,
            vendor=CATALOG.get(sample.vendor_id),
            key=sample.key,
            business_date=DAY,
            chunk_size=10,
        )
        assert (outcome.records_read, sample.expected_rejects) == (0, 0)


def test_default_formats_spread_over_every_vendor_with_exact_rejects(tmp_path: Path):
    storage = new_storage(tmp_path / "s")
    files = generate_sample_files(
        storage, CATALOG, business_date=DAY, files=6, records=200, bad_ratio=0.1, seed=9
    )
    assert {f.vendor_id for f in files} == {v.id for v in CATALOG.vendors}
    assert set(READERS) == {v.input.format for v in CATALOG.vendors}
    for sample in files:
        vendor = CATALOG.get(sample.vendor_id).model_copy(update={"max_reject_ratio": 1.0})
        outcome = process_inbound_file(
            storage=storage, vendor=vendor, key=sample.key, business_date=DAY, chunk_size=50
        )
        assert outcome.records_rejected == sample.expected_rejects > 0, sample.vendor_id
