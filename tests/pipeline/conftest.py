"""Fixtures shared by the pipeline tests."""

from __future__ import annotations

import pytest

from timesheet_batch.pipeline import run_outputs


@pytest.fixture
def work_folders(monkeypatch) -> list[str]:
    """The temporary folders the runs of this test make for their outputs (run_outputs.py)."""
    folders: list[str] = []
    real_mkdtemp = run_outputs.tempfile.mkdtemp

    def recorded(**kwargs) -> str:
        folders.append(real_mkdtemp(**kwargs))
        return folders[-1]

    monkeypatch.setattr(run_outputs.tempfile, "mkdtemp", recorded)
    return folders
