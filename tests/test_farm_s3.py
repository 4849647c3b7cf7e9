"""A window against S3 storage (a real S3-protocol server on loopback), Redis and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from tests.s3server import DUMMY_AWS_ENV, s3_client

DATE = "2026-11-17"
VENDORS_FILE = Path(__file__).parent / "vendors_three_priorities.yaml"


def test_morning_and_nightly_on_s3(farm, s3_endpoint, s3_bucket):
    farm.env |= DUMMY_AWS_ENV | {
        "TIMESHEET_STORAGE_URL": f"s3://{s3_bucket}/farm",
        "TIMESHEET_S3_ENDPOINT_URL": s3_endpoint,
        "TIMESHEET_VENDORS_FILE": str(VENDORS_FILE),
    }
    sample = farm.cli("sample-data", "--date", DATE, "--files", "9", "--records", "50",
                      "--bad-ratio", "0.04", "--json", check=True)
    manifest = json.loads(sample.stdout)
    proc = farm.cli("run", "--date", DATE, "--workers", "2", "--json", timeout=300)
    assert proc.returncode == 0, proc.stderr + farm.worker_log()
    morning, nightly = json.loads(proc.stdout)
    good = sum(f["records"] - f["expected_rejects"] for f in manifest)
    assert morning["records_written"] == nightly["records_written"] == good

    client = s3_client(s3_endpoint)
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket, Prefix="farm/")["Contents"]]
    outbound = [k for k in keys if k.startswith("farm/outbound/")]
    assert len(outbound) == 9
    assert "farm/reports/2026-11-17/batch-summary-nightly.json" in keys
    lines = sum(len(client.get_object(Bucket=s3_bucket, Key=k)["Body"].read().splitlines()) - 1 for k in outbound)
    assert lines == good
