"""export_processed_file: masking, vendor field names, every output format."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pyarrow.csv as pacsv
import pytest
from lxml import etree

from timesheet_batch.errors import JobCancelledError
from timesheet_batch.pipeline import export_processed_file, inbound, process_inbound_file
from timesheet_batch.storage import LocalStorage
from timesheet_batch.vendors import load_catalog

CATALOG = load_catalog(
    Path(__file__).parents[2] / "timesheet_batch" / "vendors" / "sample_vendors.yaml"
)
DAY = dt.date(2026, 11, 22)
ACME = CATALOG.get("ACME")
CSV_BODY = (
    "EMP,NAME,SSN,CLIENT,COUNTY,DATE,HRS,RATE,SVC\n"
    "P1,Jane Doe,123-45-6789,R1,7,2026-11-20,8.25,10.01,PCS\n"
    "P2,Ève Dupont,,R2,58,2026-11-02,1.5,0.03,DOM\n"
    "P3,=cmd Evil,111223333,R3,1,2026-10-01,2,15,MEAL\n"
)


@pytest.fixture
def processed(tmp_path: Path) -> tuple[LocalStorage, str]:
    (tmp_path / "root").mkdir()
    storage = LocalStorage(tmp_path / "root")
    key = "inbound/2026-11-22/ACME/batch.csv"
    storage.write_bytes(key, CSV_BODY.encode())
    outcome = process_inbound_file(
        storage=storage, vendor=ACME, key=key, business_date=DAY, chunk_size=2
    )
    return storage, outcome.output_key


def export(storage, processed_key, vendor, role, on_chunk=None):
    return export_processed_file(
        storage=storage,
        vendor=vendor,
        policy=CATALOG.masking_for(role),
        masking_key=b"secret",
        processed_key=processed_key,
        business_date=DAY,
        chunk_size=2,
        on_chunk=on_chunk,
    )


def as_vendor(vendor_id: str):
    """ACME's field names with another vendor's output options."""
    return ACME.model_copy(update={"output": CATALOG.get(vendor_id).output})


def test_xml_for_acme_role_vendor(processed):
    storage, key = processed
    outcome = export(storage, key, ACME, "VENDOR")
    assert outcome.output_key == "outbound/ACME/2026-11-22/batch.xml"
    assert outcome.records_written == 3
    root = etree.fromstring(storage.read_bytes(outcome.output_key))
    first = root.find("entry")
    assert first.findtext("SSN") == "***-**-6789"
    assert first.findtext("NAME") == "Jane Doe"
    assert first.findtext("DATE") == "2026-11-20"
    assert (first.findtext("HRS"), first.findtext("RATE"), first.findtext("AMOUNT")) == (
        "8.25",
        "10.01",
        "82.58",
    )
    assert root.findall("entry")[1].find("SSN") is None  # absent SSN stays absent


def test_csv_latin1_case_worker_masking_and_date_format(processed):
    storage, key = processed
    baycare = CATALOG.get("BAYCARE")
    output = baycare.output.model_copy(update={"encoding": "latin-1"})
    vendor = baycare.model_copy(update={"fields": ACME.fields, "output": output})
    outcome = export(storage, key, vendor, "CASE_WORKER")
    data = storage.read_bytes(outcome.output_key)
    rows = pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(encoding="latin-1"),
        parse_options=pacsv.ParseOptions(delimiter=";"),
        convert_options=pacsv.ConvertOptions(column_types={"SSN": "string", "DATE": "string"}),
    ).to_pylist()
    assert [r["NAME"] for r in rows] == ["J. D.", "È. D.", "'=. E."]
    assert rows[0]["SSN"] == "[REDACTED]" and rows[0]["DATE"] == "20/11/2026"
    assert b"Jane" not in data and b"123-45" not in data


def test_json_ndjson_and_hash_role(processed):
    storage, key = processed
    outcome = export(storage, key, as_vendor("CENTRAL"), "AUDITOR")
    records = json.loads(storage.read_bytes(outcome.output_key))
    assert len(records) == 3 and len(records[0]["NAME"]) == 16
    assert records[0]["AMOUNT"] == "82.58" and records[1]["AMOUNT"] == "0.05"
    outcome = export(storage, key, as_vendor("DELTA"), "ADMIN")
    lines = storage.read_bytes(outcome.output_key).decode().splitlines()
    assert outcome.output_key.endswith("batch.ndjson")
    assert json.loads(lines[0])["DATE"] == "20261120"
    assert json.loads(lines[0])["SSN"] == "123456789"


def test_fixed_width_uses_output_columns(processed):
    storage, key = processed
    outcome = export(storage, key, as_vendor("FRESNO"), "SUPERVISOR")
    assert outcome.output_key.endswith("batch.txt")
    lines = storage.read_bytes(outcome.output_key).decode().splitlines()
    assert len(lines) == 3 and all(len(line) == 102 for line in lines)
    assert lines[0][0:10] == "P1        " and lines[0][40:51] == "***-**-6789"
    assert lines[0][65:73] == "20261120" and lines[0][92:102] == "82.58     "


def test_cancel_publishes_nothing(processed):
    storage, key = processed

    def cancel(progress):
        raise JobCancelledError("cancelled")

    with pytest.raises(JobCancelledError):
        export(storage, key, ACME, "VENDOR", on_chunk=cancel)
    assert not storage.exists("outbound/ACME/2026-11-22/batch.xml")


def test_cancel_after_the_last_chunk_publishes_nothing(processed):
    storage, key = processed
    calls = []

    def cancel_when_done(progress):
        calls.append(progress)
        if len(calls) == 3:  # 3 records in chunks of 2: this is the call before publishing
            raise JobCancelledError("cancelled")

    with pytest.raises(JobCancelledError):
        export(storage, key, ACME, "VENDOR", on_chunk=cancel_when_done)
    assert calls[-1].records_read == 3 and calls[-1] == calls[-2]  # the extra, final call
    assert not storage.exists("outbound/ACME/2026-11-22/batch.xml")


@pytest.mark.parametrize("vendor_id", ["ACME", "CENTRAL", "DELTA", "EUREKA", "FRESNO"])
def test_small_file_in_memory_and_work_folder_publish_the_same_bytes(processed, vendor_id, monkeypatch,
                                                                      work_folders):
    storage, key = processed
    vendor = as_vendor(vendor_id)
    in_memory = export(storage, key, vendor, "ADMIN")
    assert work_folders == []  # a small file makes no temporary folder
    published = storage.read_bytes(in_memory.output_key)
    monkeypatch.setattr(inbound, "INLINE_INPUT_BYTES", 0)
    assert export(storage, key, vendor, "ADMIN") == in_memory
    assert len(work_folders) == 1  # this time through a work folder
    assert storage.read_bytes(in_memory.output_key) == published and in_memory.records_written == 3
