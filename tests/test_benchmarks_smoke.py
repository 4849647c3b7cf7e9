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


#: The farm cases, each with the keys its JSON must have (besides case/date/nproc).
FARM_CASES = {
    "seed": {"reference_noop_chord_s", "morning", "ratio_vs_noop", "within_target"},
    "volume": {"reference_single_process", "morning", "records_per_s", "ratio_vs_single_process"},
    "scaling": {"runs", "sizes", "within_target"},
    "priority": {"reference_alone_s", "delays_s", "p95_s", "p95_vs_alone"},
}


def test_quick_farm_benchmarks_run_and_write_json(tmp_path: Path):
    """Every farm case in --quick mode, side by side (each takes its own Redis db and database)."""
    running = {}
    for case in FARM_CASES:
        out = tmp_path / f"{case}.json"
        running[case] = (out, subprocess.Popen(
            [sys.executable, "-m", "benchmarks", case, "--quick", "--json", str(out)],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))
    for case, (out, proc) in running.items():
        stdout, stderr = proc.communicate(timeout=150)
        assert proc.returncode == 0, f"{case}: {stderr[-3000:]}"
        result = json.loads(out.read_text())
        assert {"case", "date", "nproc", "load_average"} | FARM_CASES[case] <= set(result), case
        assert result["case"] == case and case in stdout
    seed, volume = (json.loads((tmp_path / f"{c}.json").read_text()) for c in ("seed", "volume"))
    assert seed["morning"]["status"] == "COMPLETED" and seed["morning"]["files"] == seed["files"]
    assert volume["morning"]["records_read"] == volume["files"] * volume["records_per_file"]
    assert all(entry["status"] == "COMPLETED" for entry in json.loads((tmp_path / "scaling.json").read_text())["runs"])


def test_tiny_soak_runs_and_writes_json(tmp_path: Path):
    """One business date (morning and nightly, the bad files too), no kills (a killed file waits out its
    30 s lease); after the farm cases, with a Redis database picked as they pick theirs (never 9)."""
    out = tmp_path / "soak.json"
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "soak", "--minutes", "0", "--files", "12", "--records", "20",
         "--kill-every-s", "0", "--broker-db", "auto", "--result-db", "same", "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=150,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(out.read_text())
    assert {"case", "date", "nproc", "load_average", "windows", "samples", "analysis", "totals"} <= set(result)
    assert result["case"] == "soak" and result["stopped_by"] is None and "soak" in completed.stdout
    morning, nightly = result["windows"]
    assert (morning["window"], nightly["window"]) == ("morning", "nightly")
    assert morning["completed"] == 12 and morning["failed"] == morning["bad_files"]
    assert nightly["completed"] == 12 and result["totals"]["wrong_states"] == 0
    assert len(result["samples"]) == 3 and result["analysis"]
