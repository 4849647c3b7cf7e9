"""Golden files: a small committed inbound sample per sample vendor and its expected outputs.

``tests/pipeline/golden/{VENDOR}/`` holds ``inbound{ext}`` (made by the sample generator),
``rejects.csv`` and ``outbound{ext}`` (what the pipeline made of it). The test runs the
inbound file through ``process_inbound_file`` and ``export_processed_file`` and compares
bytes. After an intended change of output, regenerate and review the diff::

    python -m tests.pipeline.test_golden --update
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
from pathlib import Path, PurePosixPath

import pytest

from timesheet_batch.pipeline import export_processed_file, process_inbound_file
from timesheet_batch.sample_data import generate_sample_files
from timesheet_batch.storage import LocalStorage
from timesheet_batch.vendors import load_catalog

GOLDEN = Path(__file__).parent / "golden"
CATALOG = load_catalog(
    Path(__file__).parents[2] / "timesheet_batch" / "vendors" / "sample_vendors.yaml"
)
DAY = dt.date(2026, 11, 22)
MASKING_KEY = b"golden-files"


def run_pipeline(vendor_id: str, inbound: Path, work: Path) -> dict[str, bytes]:
    """The rejects and outbound bytes the pipeline makes of ``inbound`` for the vendor."""
    storage = LocalStorage(work)
    vendor = CATALOG.get(vendor_id).model_copy(update={"max_reject_ratio": 1.0})
    key = f"inbound/{DAY.isoformat()}/{vendor_id}/{inbound.name}"
    storage.publish_file(inbound, key)
    result = process_inbound_file(storage=storage, vendor=vendor, key=key, business_date=DAY, chunk_size=7)
    outbound = export_processed_file(
        storage=storage,
        vendor=vendor,
        policy=CATALOG.masking_for(vendor.role),
        masking_key=MASKING_KEY,
        processed_key=result.output_key,
        business_date=DAY,
        chunk_size=5,
    )
    suffix = PurePosixPath(outbound.output_key).suffix
    return {
        "rejects.csv": storage.read_bytes(result.rejects_key) if result.rejects_key else b"",
        f"outbound{suffix}": storage.read_bytes(outbound.output_key),
    }


def _inbound(vendor_id: str) -> Path:
    [path] = (GOLDEN / vendor_id).glob("inbound.*")
    return path


@pytest.mark.parametrize("vendor_id", [v.id for v in CATALOG.vendors])
def test_golden_outputs(vendor_id: str, tmp_path: Path):
    outputs = run_pipeline(vendor_id, _inbound(vendor_id), tmp_path)
    for name, data in outputs.items():
        expected = (GOLDEN / vendor_id / name).read_bytes()
        assert data == expected, f"{vendor_id}/{name} changed; see this module's docstring"


def update() -> None:
    """Regenerate every golden inbound sample and its expected outputs."""
    with tempfile.TemporaryDirectory() as tmp:
        storage = LocalStorage(Path(tmp) / "samples")
        (Path(tmp) / "samples").mkdir()
        files = generate_sample_files(
            storage, CATALOG, business_date=DAY, files=len(CATALOG.vendors), records=32,
            bad_ratio=0.25, seed=2026,
        )
        for sample in files:
            folder = GOLDEN / sample.vendor_id
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            inbound = folder / ("inbound" + PurePosixPath(sample.key).suffix)
            inbound.write_bytes(storage.read_bytes(sample.key))
            work = Path(tmp) / sample.vendor_id
            work.mkdir()
            for name, data in run_pipeline(sample.vendor_id, inbound, work).items():
                (folder / name).write_bytes(data)
            print(f"{folder}: {sample.records} records, {sample.expected_rejects} rejected")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--update", action="store_true", help="regenerate the golden files")
    if parser.parse_args().update:
        update()
    else:
        parser.print_help()
