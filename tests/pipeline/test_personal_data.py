"""No raw SSN or full provider name in any rejects file, nor in outbound files of a masking role.

Sample files for every sample vendor (every input format) go through the inbound pipeline and
are then exported for every role. Processed files are internal (ADMIN) and exempt.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from timesheet_batch.formats import get_reader
from timesheet_batch.pipeline import export_processed_file, process_inbound_file
from timesheet_batch.sample_data import generate_sample_files
from timesheet_batch.storage import LocalStorage
from timesheet_batch.vendors import load_catalog

CATALOG = load_catalog(
    Path(__file__).parents[2] / "timesheet_batch" / "vendors" / "sample_vendors.yaml"
)
DAY = dt.date(2026, 11, 22)


def personal_values(storage: LocalStorage, key: str, vendor) -> tuple[set[str], set[str]]:
    """(every SSN in both written forms, every full name) of one inbound file."""
    ssns, names = set(), set()
    with storage.open_read(key) as stream:
        for table in get_reader(vendor.input.format).read_chunks(stream, vendor.input, 10_000):
            for ssn in table.column(vendor.fields["provider_ssn"]).to_pylist():
                digits = "".join(c for c in (ssn or "") if c.isdigit())
                if len(digits) == 9:
                    ssns |= {digits, f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"}
            names |= {n.strip() for n in table.column(vendor.fields["provider_name"]).to_pylist() if n}
    return ssns, names


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> list[tuple[str, str, bytes, set[str], set[str]]]:
    """(kind, role, bytes, ssns, names) for every rejects and outbound file made."""
    root = tmp_path_factory.mktemp("pii")
    storage = LocalStorage(root)
    samples = generate_sample_files(
        storage, CATALOG, business_date=DAY, files=len(CATALOG.vendors), records=300,
        bad_ratio=0.1, seed=11,
    )
    made = []
    for sample in samples:
        vendor = CATALOG.get(sample.vendor_id).model_copy(update={"max_reject_ratio": 1.0})
        ssns, names = personal_values(storage, sample.key, vendor)
        result = process_inbound_file(
            storage=storage, vendor=vendor, key=sample.key, business_date=DAY, chunk_size=64
        )
        made.append(("rejects", "-", storage.read_bytes(result.rejects_key), ssns, names))
        for role in CATALOG.roles:
            out = export_processed_file(
                storage=storage, vendor=vendor, policy=CATALOG.masking_for(role), masking_key=b"k",
                processed_key=result.output_key, business_date=DAY, chunk_size=100,
            )
            made.append(("outbound", role, storage.read_bytes(out.output_key), ssns, names))
            storage.delete(out.output_key)
    assert {v.input.format for v in CATALOG.vendors} == {"csv", "json", "ndjson", "xml", "fixed_width"}
    return made


def _leaks(data: bytes, secrets: set[str]) -> list[str]:
    text = data.decode("utf-8", errors="replace") + data.decode("latin-1")
    return sorted(s for s in secrets if s in text)


def test_the_sample_data_has_personal_data_to_find(outputs):
    assert all(ssns and names for _, _, _, ssns, names in outputs)
    # Sanity: an unmasked role does show them, so the scan below can see a leak.
    assert any(_leaks(data, ssns | names) for _, role, data, ssns, names in outputs if role == "ADMIN")


def test_rejects_files_hold_no_raw_ssn_or_full_name(outputs):
    for kind, _, data, ssns, names in outputs:
        if kind == "rejects":
            assert not _leaks(data, ssns | names)


@pytest.mark.parametrize("field", ["provider_ssn", "provider_name"])
def test_outbound_files_of_masking_roles_hold_no_raw_value(outputs, field):
    for kind, role, data, ssns, names in outputs:
        if kind == "outbound" and CATALOG.masking_for(role).get(field, "none") != "none":
            assert not _leaks(data, ssns if field == "provider_ssn" else names), (role, field)
