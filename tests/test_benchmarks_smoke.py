"""Smoke test of the benchmark entry point (no timing assertions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_quick_pipeline_benchmark_runs_and_writes_json(tmp_path: Path):
    out = tmp_path / "bench.json"
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "pipeline", "--quick", "--records", "20000", "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads(out.read_text())
    assert {"case", "date", "nproc", "records", "reference_pyarrow", "per_record_loop", "inbound", "export",
            "ratios"} <= set(result)
    assert set(result["inbound"]) == set(result["export"]) == {"csv", "json", "ndjson", "xml", "fixed_width"}
    assert all(entry["records_per_s"] > 0 for entry in result["inbound"].values())
    assert "csv_inbound_vs_pyarrow" in result["ratios"] and "x pyarrow" in completed.stdout
