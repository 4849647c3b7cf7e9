"""Deterministic sample inbound files for the configured vendors (``sample-data`` command).

Files go round robin over the vendors whose input format is in ``formats``, interleaved by
priority (high, medium, low, high, …) so every priority gets work. By default ``formats`` is
every format that has a reader, so the pipeline can read all that is generated.

Good records never trip a cross-record rule: a provider has at most three records, each of at
most 8 hours, with three different service codes. Bad records (``bad_ratio``) are realistic
and each is rejected exactly once, so :attr:`SampleFile.expected_rejects` is exact: an
impossible date, a date after the business date, 25 hours, a missing provider id, a
malformed SSN, an unknown service code, an exact copy of an earlier good record (one
``duplicate``) and pairs of 12.5-hour records of one provider-day (both
``daily_hours_exceeded``). Columns are generated with pyarrow.compute, so a million records
take about a second.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from timesheet_batch.errors import ConfigurationError
from timesheet_batch.formats import READERS, get_writer
from timesheet_batch.storage.base import Storage
from timesheet_batch.vendors.profile import (
    CANONICAL_INPUT_FIELDS,
    VendorCatalog,
    VendorProfile,
)

FIRST_NAMES = [
    "Maria",
    "José",
    "Wei",
    "Aisha",
    "John",
    "Linh",
    "Renée",
    "Carlos",
    "Fatima",
    "David",
    "Ana",
    "Tomás",
    "Grace",
    "Omar",
    "Sofia",
    "James",
]
LAST_NAMES = [
    "Garcia",
    "Nuñez",
    "Smith",
    "Nguyen",
    "Johnson",
    "Okafor",
    "Müller",
    "Kim",
    "Patel",
    "Lopez",
    "Brown",
    "Hernández",
    "Chen",
    "Williams",
    "Rossi",
    "Singh",
]
# Position i % 3 inside a provider's records picks one of each pair: keys stay unique.
_SERVICE_PAIRS = [("PCS", "TRANS"), ("DOM", "PARA"), ("MEAL", "PROT")]
_BAD_KINDS = [
    "date_format",
    "date_window",
    "range",
    "required",
    "pattern",
    "enum",
    "duplicate",
    "daily_hours_exceeded",
]
_PRIORITY_ORDER = ("high", "medium", "low")
_WRITE_SLICE = 100_000
_STR = pa.string()


@dataclass(frozen=True)
class SampleFile:
    """One generated inbound file and the exact number of records the pipeline rejects."""

    key: str
    vendor_id: str
    records: int
    expected_rejects: int


def generate_sample_files(
    storage: Storage,
    catalog: VendorCatalog,
    *,
    business_date: dt.date,
    files: int,
    records: int,
    formats: Collection[str] | None = None,
    bad_ratio: float = 0.0,
    seed: int = 0,
) -> list[SampleFile]:
    """Write ``files`` inbound files of ``records`` records each; the same seed, the same bytes."""
    if not 0.0 <= bad_ratio <= 1.0:
        raise ConfigurationError("bad_ratio must be between 0 and 1")
    wanted = set(READERS) if formats is None else set(formats)
    vendors = interleave_by_priority([v for v in catalog.vendors if v.input.format in wanted])
    if not vendors and files:
        raise ConfigurationError(f"no vendor reads any of the formats {sorted(wanted)}")
    samples = []
    for n in range(files):
        vendor = vendors[n % len(vendors)]
        rng = np.random.default_rng([seed, n])
        columns = _good_columns(rng, records, business_date, vendor.input.date_format)
        expected = _inject_bad(columns, rng, bad_ratio, vendor, business_date)
        key = _write(storage, vendor, columns, business_date, n)
        samples.append(SampleFile(key, vendor.id, records, expected))
    return samples


def interleave_by_priority(vendors: list[VendorProfile]) -> list[VendorProfile]:
    """high[0], medium[0], low[0], high[1], … (catalog order within a priority)."""
    queues = [[v for v in vendors if v.priority == p] for p in _PRIORITY_ORDER]
    ordered = []
    for index in range(max((len(q) for q in queues), default=0)):
        ordered.extend(q[index] for q in queues if index < len(q))
    return ordered


def _digits(values: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(pc.cast(pa.array(values, pa.int64()), _STR), width=width, padding="0")


def _cents(values: np.ndarray) -> pa.Array:
    """Integer cents as ``"12.50"`` strings."""
    return pc.binary_join_element_wise(
        pc.cast(pa.array(values // 100), pa.string()), _digits(values % 100, 2), "."
    )


def _good_columns(
    rng: np.random.Generator, n: int, day: dt.date, date_format: str
) -> dict[str, np.ndarray]:
    """Canonical field -> object array of valid string values."""
    i = np.arange(n)
    ssn = _digits(rng.integers(100_000_000, 999_999_999, n), 9)
    dashed = pc.replace_substring_regex(ssn, r"^(\d{3})(\d{2})(\d{4})$", r"\1-\2-\3")
    style = rng.integers(0, 10, n)  # 0: no SSN, odd: dashed, else plain digits
    ssn = pc.if_else(pa.array(style == 0), "", pc.if_else(pa.array(style % 2 == 1), dashed, ssn))
    names = pc.binary_join_element_wise(
        pa.array(np.array(FIRST_NAMES, dtype=object)[rng.integers(0, len(FIRST_NAMES), n)], _STR),
        pa.array(np.array(LAST_NAMES, dtype=object)[rng.integers(0, len(LAST_NAMES), n)], _STR),
        " ",
    )
    services = np.array(_SERVICE_PAIRS, dtype=object)[i % 3, rng.integers(0, 2, n)]
    dates = np.datetime64(day) - rng.integers(0, 62, n).astype("timedelta64[D]")
    columns = {
        "provider_id": pc.binary_join_element_wise("P", _digits(i // 3, 9), ""),
        "provider_name": names,
        "provider_ssn": ssn,
        "recipient_id": pc.binary_join_element_wise("R", _digits(rng.integers(0, 10**6, n), 6), ""),
        "county_code": pc.cast(pa.array(rng.integers(1, 59, n), pa.int64()), _STR),
        "work_date": pc.strftime(
            pa.array(dates, pa.date32()).cast(pa.timestamp("s")), format=date_format
        ),
        "hours": _cents(rng.integers(4, 33, n) * 25),
        "pay_rate": _cents(rng.integers(1500, 4001, n)),
        "service_code": pa.array(services, pa.string()),
    }
    return {k: v.to_numpy(zero_copy_only=False).astype(object) for k, v in columns.items()}


def _inject_bad(columns, rng, bad_ratio, vendor, day) -> int:
    """Overwrite ``bad_ratio`` of the records with bad ones; the number the pipeline rejects."""
    n = len(columns["provider_id"])
    count = min(n, round(n * bad_ratio))
    positions = sorted(rng.choice(n, size=count, replace=False).tolist()) if count else []
    bad, expected, k = set(positions), 0, 0
    while k < len(positions):
        p, kind = positions[k], _BAD_KINDS[k % len(_BAD_KINDS)]
        source = next((q for q in range(p - 1, -1, -1) if q not in bad), None)
        if kind == "duplicate" and source is None:
            kind = "enum"
        if kind == "daily_hours_exceeded" and k + 1 < len(positions):
            for slot, q in enumerate(positions[k : k + 2]):
                _set(
                    columns,
                    q,
                    provider_id=f"X{p:09d}",
                    work_date=columns["work_date"][p],
                    service_code=_SERVICE_PAIRS[slot][0],
                    hours="12.50",
                )
            expected, k = expected + 2, k + 2
            continue
        if kind == "daily_hours_exceeded":
            kind = "enum"
        _make_bad(columns, p, kind, source, vendor, day)
        expected, k = expected + 1, k + 1
    return expected


def _make_bad(columns, p, kind, source, vendor, day) -> None:
    """Turn record ``p`` into one failing exactly the rule ``kind``."""
    if kind == "duplicate":
        _set(columns, p, **{field: columns[field][source] for field in columns})
    elif kind == "date_format":
        impossible = _format_template(vendor.input.date_format, day.year)  # February 31st
        _set(columns, p, work_date=impossible)
    elif kind == "date_window":
        future = day + dt.timedelta(days=3)
        _set(columns, p, work_date=future.strftime(vendor.input.date_format))
    elif kind == "range":
        _set(columns, p, hours="25.00")
    elif kind == "required":
        _set(columns, p, provider_id="")
    elif kind == "pattern":
        _set(columns, p, provider_ssn="12-345-678")
    else:
        _set(columns, p, service_code="XYZ")


def _format_template(date_format: str, year: int) -> str:
    text = date_format.replace("%Y", f"{year:04d}").replace("%y", f"{year % 100:02d}")
    return text.replace("%m", "02").replace("%d", "31")


def _set(columns: dict[str, np.ndarray], row: int, **values: object) -> None:
    for field, value in values.items():
        columns[field][row] = value


def _as_strings(columns: dict[str, np.ndarray], vendor: VendorProfile) -> pa.Table:
    """String columns named by the vendor's fields, in canonical order."""
    arrays, names = [], []
    for field in CANONICAL_INPUT_FIELDS:
        if field in vendor.fields:
            arrays.append(pa.array(columns[field], pa.string()))
            names.append(vendor.fields[field])
    return pa.Table.from_arrays(arrays, names=names)


def _write(storage, vendor, columns, day, n) -> str:
    writer = get_writer(vendor.input.format)
    key = f"inbound/{day.isoformat()}/{vendor.id}/{vendor.id}-{n:05d}{writer.extension}"
    table = _as_strings(columns, vendor)
    with tempfile.TemporaryDirectory(prefix="timesheet-sample-") as tmp:
        path = Path(tmp) / "sample"
        with writer.open(path, vendor.input, table.column_names) as session:
            for start in range(0, table.num_rows, _WRITE_SLICE):
                session.write(table.slice(start, _WRITE_SLICE))
        storage.publish_file(path, key)
    return key
