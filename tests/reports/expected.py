"""Expected report totals computed from the inbound files with plain Python (no pipeline code).

The rules are re-implemented from docs/architecture.md ("Canonical timesheet record"): per-record
checks, then duplicates (first kept), then provider-days over 24 hours (all rejected); a file
over its vendor's ``max_reject_ratio`` fails whole and contributes nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections import Counter, defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

SERVICES = {"PCS", "DOM", "MEAL", "TRANS", "PARA", "PROT"}
PROVIDER_RE = re.compile(r"^[A-Za-z0-9]{1,20}$")
SSN_RE = re.compile(r"^(\d{3}-\d{2}-\d{4}|\d{9})$")
CENT = Decimal("0.01")


def read_records(path: Path, vendor) -> list[dict]:
    """The file's records as canonical-field dicts of strings (csv or json only)."""
    text = path.read_bytes().decode(vendor.input.encoding)
    if vendor.input.format == "csv":
        rows = list(csv.DictReader(io.StringIO(text), delimiter=vendor.input.delimiter))
    else:
        rows = json.loads(text)
    return [{canonical: str(row.get(name, "") or "") for canonical, name in vendor.fields.items()} for row in rows]


def _good(record: dict, vendor, business_date: dt.date) -> bool:
    try:
        day = dt.datetime.strptime(record["work_date"], vendor.input.date_format).date()
        hours, rate = Decimal(record["hours"]), Decimal(record["pay_rate"])
        county = int(record["county_code"])
    except (ValueError, ArithmeticError):
        return False
    ssn = record.get("provider_ssn", "")
    return (bool(PROVIDER_RE.match(record["provider_id"])) and bool(record["provider_name"])
            and bool(record["recipient_id"]) and (ssn == "" or bool(SSN_RE.match(ssn)))
            and 1 <= county <= 58 and business_date - dt.timedelta(days=62) <= day <= business_date
            and Decimal(0) < hours <= 24 and rate >= 0 and record["service_code"] in SERVICES)


def good_records(path: Path, vendor, business_date: dt.date) -> list[dict]:
    """The records of one file the farm must keep."""
    kept, seen = [], set()
    for record in read_records(path, vendor):
        if not _good(record, vendor, business_date):
            continue
        key = (record["provider_id"], record["recipient_id"], record["work_date"], record["service_code"])
        if key in seen:
            continue
        seen.add(key)
        kept.append(record)
    daily = Counter()
    for r in kept:
        daily[(r["provider_id"], r["work_date"])] += Decimal(r["hours"])
    return [r for r in kept if daily[(r["provider_id"], r["work_date"])] <= 24]


def expected_totals(storage_root: Path, catalog, business_date: dt.date) -> dict:
    """Records, hours and amount in total and by county, vendor and service, plus reads per vendor."""
    by = {"county_code": defaultdict(lambda: [0, Decimal(0), Decimal(0)]),
          "vendor_id": defaultdict(lambda: [0, Decimal(0), Decimal(0)]),
          "service_code": defaultdict(lambda: [0, Decimal(0), Decimal(0)])}
    read = Counter()
    for path in sorted((storage_root / "inbound" / business_date.isoformat()).glob("*/*")):
        vendor = catalog.get(path.parent.name)
        records = read_records(path, vendor)
        read[vendor.id] += len(records)
        good = good_records(path, vendor, business_date)
        if (len(records) - len(good)) / len(records) > vendor.max_reject_ratio:
            continue  # over the vendor's skip limit: the file fails and publishes nothing
        for r in good:
            hours = Decimal(r["hours"]).quantize(CENT)
            amount = (hours * Decimal(r["pay_rate"]).quantize(CENT)).quantize(CENT, ROUND_HALF_UP)
            for dim, key in (("county_code", int(r["county_code"])), ("vendor_id", vendor.id),
                             ("service_code", r["service_code"])):
                slot = by[dim][key]
                slot[0] += 1
                slot[1] += hours
                slot[2] += amount
    return {dim: {k: tuple(v) for k, v in rows.items()} for dim, rows in by.items()} | {"read": dict(read)}
