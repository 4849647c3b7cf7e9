"""Throughput of the file pipeline against two references measured in the same run.

* reference: plain ``pyarrow.csv.read_csv`` + ``write_csv`` of the CSV input file;
* per-record loop: ``csv.DictReader`` + a pydantic model per row + ``csv.DictWriter``, on a
  subset (at most 100,000 records) since it is slow; reported as records/s;
* ours: ``process_inbound_file`` (read -> validate -> map -> cross-record -> Parquet +
  rejects) for one sample file per input format (made by the sample vendors, 1% bad
  records), and ``export_processed_file`` (Parquet -> mask -> vendor format) of each.

CSV timings are the best of ``--repeat`` runs (the machine may be shared); the ratios are
``ours(csv) / reference`` and ``ours(csv) / loop`` in records per second.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pyarrow.csv as pacsv
from pydantic import BaseModel, Field

from benchmarks import common
from timesheet_batch.pipeline import export_processed_file, process_inbound_file
from timesheet_batch.sample_data import generate_sample_files
from timesheet_batch.storage import LocalStorage
from timesheet_batch.vendors import load_catalog

NAME = "pipeline"
HELP = "records/s of the inbound and outbound pipelines per format vs pyarrow and a per-record loop"
FORMATS = ("csv", "json", "ndjson", "xml", "fixed_width")
DAY = dt.date(2026, 11, 22)
CHUNK_SIZE = 100_000
LOOP_RECORDS = 100_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of this case."""
    parser.add_argument("--records", type=int, default=None, help="records per file (default 1,000,000)")
    parser.add_argument("--quick", action="store_true", help="50,000 records, one repeat")
    parser.add_argument("--repeat", type=int, default=None, help="best of N for CSV (default 3)")
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))


class _Timesheet(BaseModel):
    """The per-record reference: a typed model built for every row."""

    EMP: str = Field(pattern=r"^[A-Za-z0-9]{1,20}$")
    NAME: str = Field(max_length=100)
    SSN: str | None = None
    CLIENT: str
    COUNTY: int = Field(ge=1, le=58)
    DATE: dt.date
    HRS: Decimal = Field(gt=0, le=24, decimal_places=2)
    RATE: Decimal = Field(ge=0, decimal_places=2)
    SVC: str


def _per_record_loop(source: Path, target: Path, limit: int) -> int:
    with open(source, newline="", encoding="utf-8") as inp, open(target, "w", newline="") as out:
        reader = csv.DictReader(inp)
        writer = csv.DictWriter(out, fieldnames=[*reader.fieldnames, "AMOUNT"])
        writer.writeheader()
        count = 0
        for row in reader:
            if count == limit:
                break
            count += 1
            try:
                record = _Timesheet(**{k: (v or None) if k == "SSN" else v for k, v in row.items()})
            except ValueError:
                continue
            writer.writerow({**row, "AMOUNT": str((record.HRS * record.RATE).quantize(Decimal("0.01")))})
    return count


def run(args: argparse.Namespace) -> dict:
    """Generate the data, measure, print the table; the results as a dict."""
    records = args.records or (50_000 if args.quick else 1_000_000)
    repeat = args.repeat or (1 if args.quick else 3)
    catalog = load_catalog(Path(__file__).parents[1] / "timesheet_batch" / "vendors" / "sample_vendors.yaml")
    with common.scratch_dir("bench-pipeline-") as tmp:
        storage = LocalStorage(tmp)
        files = {
            fmt: generate_sample_files(
                storage, catalog, business_date=DAY, files=1, records=records, formats=[fmt],
                bad_ratio=0.01, seed=42,
            )[0]
            for fmt in args.formats
        }
        result = {"case": NAME, **common.machine(), "records": records, "repeat": repeat, "quick": args.quick}
        result.update(_references(storage, files.get("csv"), repeat, records))
        result["inbound"], result["export"] = {}, {}
        for fmt, sample in files.items():
            vendor = catalog.get(sample.vendor_id).model_copy(update={"max_reject_ratio": 1.0})
            _measure_file(storage, catalog, vendor, sample, repeat if fmt == "csv" else 1, result)
    _add_ratios(result)
    _print(result)
    return result


def _references(storage: LocalStorage, sample, repeat: int, records: int) -> dict:
    if sample is None:
        return {}
    source = storage.root / sample.key
    out = source.with_suffix(".ref.csv")
    seconds = common.best_of(repeat, lambda: pacsv.write_csv(pacsv.read_csv(source), out))
    limit = min(records, LOOP_RECORDS)
    loop = common.best_of(1, lambda: _per_record_loop(source, out, limit))
    out.unlink()
    return {
        "reference_pyarrow": {"seconds": seconds, "records_per_s": records / seconds},
        "per_record_loop": {"records": limit, "seconds": loop, "records_per_s": limit / loop},
    }


def _measure_file(storage, catalog, vendor, sample, repeat: int, result: dict) -> None:
    outcome = {}

    def inbound():
        outcome["in"] = process_inbound_file(
            storage=storage, vendor=vendor, key=sample.key, business_date=DAY, chunk_size=CHUNK_SIZE
        )

    seconds = common.best_of(repeat, inbound)
    assert outcome["in"].records_rejected == sample.expected_rejects  # exactness, not speed
    fmt = vendor.input.format
    result["inbound"][fmt] = {
        "vendor": vendor.id, "seconds": seconds, "records_per_s": sample.records / seconds,
        "rejected": outcome["in"].records_rejected,
    }

    def export():
        export_processed_file(
            storage=storage, vendor=vendor, policy=catalog.masking_for(vendor.role), masking_key=b"bench",
            processed_key=outcome["in"].output_key, business_date=DAY, chunk_size=CHUNK_SIZE,
        )

    seconds = common.best_of(repeat, export)
    written = outcome["in"].records_written
    result["export"][fmt] = {
        "vendor": vendor.id, "output_format": vendor.output.format, "seconds": seconds,
        "records_per_s": written / seconds,
    }


def _add_ratios(result: dict) -> None:
    ours = result["inbound"].get("csv")
    if ours and "reference_pyarrow" in result:
        result["ratios"] = {
            "csv_inbound_vs_pyarrow": ours["records_per_s"] / result["reference_pyarrow"]["records_per_s"],
            "csv_inbound_vs_loop": ours["records_per_s"] / result["per_record_loop"]["records_per_s"],
        }


def _print(result: dict) -> None:
    rows = []
    ref = result.get("reference_pyarrow")
    if ref:
        rows.append(["pyarrow read_csv + write_csv", "csv", ref["seconds"], ref["records_per_s"], 1.0])
        loop = result["per_record_loop"]
        rows.append(["DictReader + pydantic + DictWriter", "csv", loop["seconds"], loop["records_per_s"],
                     loop["records_per_s"] / ref["records_per_s"]])
    base = ref["records_per_s"] if ref else None
    for kind in ("inbound", "export"):
        for fmt, entry in result[kind].items():
            ratio = entry["records_per_s"] / base if base else "-"
            label = f"{kind} {entry['vendor']}" + (f" -> {entry['output_format']}" if kind == "export" else "")
            rows.append([label, fmt, entry["seconds"], entry["records_per_s"], ratio])
    title = f"pipeline: {result['records']:,} records, nproc {result['nproc']}, best of {result['repeat']}"
    common.print_table(title, ["path", "input", "seconds", "records/s", "x pyarrow"], rows)
    for name, value in result.get("ratios", {}).items():
        print(f"{name}: {value:.2f}")
