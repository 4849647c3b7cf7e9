"""process_inbound_file end to end over a LocalStorage root."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from timesheet_batch.errors import JobCancelledError, RejectLimitExceededError, UnreadableFileError
from timesheet_batch.pipeline import ChunkProgress, cross_record, inbound, process_inbound_file, spool
from timesheet_batch.storage import LocalStorage, layout
from timesheet_batch.vendors import load_catalog

CATALOG = load_catalog(
    Path(__file__).parents[2] / "timesheet_batch" / "vendors" / "sample_vendors.yaml"
)
DAY = dt.date(2026, 11, 22)
HEADER = "EMP,NAME,SSN,CLIENT,COUNTY,DATE,HRS,RATE,SVC\n"
KEY = "inbound/2026-11-22/ACME/a.csv"
PROCESSED = layout.processed_key(DAY, "ACME", "a.csv")
REJECTS = layout.rejects_key(DAY, "ACME", "a.csv")


def acme(max_reject_ratio: float = 1.0):
    return CATALOG.get("ACME").model_copy(update={"max_reject_ratio": max_reject_ratio})


def line(
    emp="P1",
    name="Jane Doe",
    ssn="123-45-6789",
    client="R1",
    date="2026-11-20",
    hours="8",
    service="PCS",
) -> str:
    return f"{emp},{name},{ssn},{client},7,{date},{hours},20.00,{service}\n"


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    (tmp_path / "root").mkdir()
    return LocalStorage(tmp_path / "root")


def run(storage, body: str | bytes, vendor=None, chunk_size=2, on_chunk=None):
    data = body if isinstance(body, bytes) else (HEADER + body).encode()
    storage.write_bytes(KEY, data)
    return process_inbound_file(
        storage=storage,
        vendor=vendor or acme(),
        key=KEY,
        business_date=DAY,
        chunk_size=chunk_size,
        on_chunk=on_chunk,
    )


def rejects_of(storage) -> list[dict]:
    return pacsv.read_csv(io.BytesIO(storage.read_bytes(REJECTS))).to_pylist()


def processed_numbers(storage) -> list[int]:
    return (
        pq.read_table(io.BytesIO(storage.read_bytes(PROCESSED))).column("record_number").to_pylist()
    )


def test_duplicates_across_chunks_keep_the_first(storage):
    body = line() + line(emp="P2") + line(emp="P3") + line() + line(service="DOM") + line()
    outcome = run(storage, body, chunk_size=2)
    assert outcome.rejects_by_rule == {"duplicate": 2}
    assert processed_numbers(storage) == [2, 3, 4, 6]
    assert {r["record_number"] for r in rejects_of(storage)} == {5, 7}
    assert all("record 2" in r["message"] for r in rejects_of(storage))


def test_daily_hours_over_24_across_chunks_rejects_the_whole_group(storage):
    body = (
        line(hours="10")
        + line(emp="P2", hours="24")
        + line(hours="10", service="DOM")
        + line(hours="4.01", service="MEAL")
        + line(hours="8", date="2026-11-19")
    )
    outcome = run(storage, body, chunk_size=2)
    assert outcome.rejects_by_rule == {"daily_hours_exceeded": 3}
    assert processed_numbers(storage) == [3, 6]
    assert outcome.records_read == 5 and outcome.records_written == 2


def test_a_duplicate_does_not_count_towards_daily_hours(storage):
    outcome = run(storage, line(hours="16") + line(hours="16") + line(hours="8", service="DOM"))
    assert outcome.rejects_by_rule == {"duplicate": 1}


def test_spilled_and_partitioned_files_give_the_same_result(storage, monkeypatch):
    body = "".join(
        line(
            emp=f"P{i % 7}" if i < 50 else f"Q{i}",
            service=["PCS", "DOM", "MEAL"][i % 3],
            date=f"2026-11-{10 + i % 2}",
            hours="9",
        )
        for i in range(60)
    )
    expected = run(storage, body, chunk_size=5)
    expected_rows = processed_numbers(storage)
    spilled = _watch_spools(monkeypatch)
    monkeypatch.setattr(inbound, "INLINE_INPUT_BYTES", 0)  # a small input never spills
    monkeypatch.setattr(spool, "MEMORY_ROWS", 7)
    monkeypatch.setattr(cross_record, "PARTITION_ROWS", 10)
    outcome = run(storage, body, chunk_size=5)
    assert spilled and all(spilled)
    assert outcome == expected and processed_numbers(storage) == expected_rows
    assert outcome.rejects_by_rule["duplicate"] > 0
    assert outcome.rejects_by_rule["daily_hours_exceeded"] > 0


def _watch_spools(monkeypatch) -> list[bool]:
    """Whether each run's spool had spilled to disk when it finished."""
    spilled = []
    finish = spool.ValidSpool.finish

    def watched(self):
        spilled.append(not self.in_memory)
        finish(self)

    monkeypatch.setattr(spool.ValidSpool, "finish", watched)
    return spilled


def test_small_input_in_memory_and_work_folder_publish_the_same_bytes(storage, monkeypatch, work_folders):
    body = "".join(line(emp=f"P{i}", ssn="12-345" if i % 9 == 0 else "123-45-6789") for i in range(40))
    body += line(emp="P1")  # a duplicate: the cross-record pass writes a reject too
    in_memory = run(storage, body, chunk_size=7)
    assert work_folders == []  # a small input makes no temporary folder
    processed, rejects = storage.read_bytes(PROCESSED), storage.read_bytes(REJECTS)
    monkeypatch.setattr(inbound, "INLINE_INPUT_BYTES", 0)
    assert run(storage, body, chunk_size=7) == in_memory
    assert len(work_folders) == 1  # this time through a work folder
    assert storage.read_bytes(PROCESSED) == processed and storage.read_bytes(REJECTS) == rejects
    assert in_memory.rejects_by_rule == {"pattern": 5, "duplicate": 1}


def test_reject_limit_fails_with_rejects_and_no_processed_output(storage):
    run(storage, line())  # an earlier good run left processed output
    assert storage.exists(PROCESSED)
    with pytest.raises(
        RejectLimitExceededError, match=r"1 of 2 records rejected \(50.00%\)"
    ) as info:
        run(storage, line() + line(hours="99"), vendor=acme(0.05))
    assert info.value.key == KEY
    assert not storage.exists(PROCESSED)
    assert [r["rule"] for r in rejects_of(storage)] == ["range"]


def test_within_limit_completes_and_stale_rejects_are_removed(storage):
    outcome = run(storage, line() + line(hours="99"))
    assert outcome.rejects_key == REJECTS and storage.exists(REJECTS)
    outcome = run(storage, line())
    assert outcome.rejects_key is None and not storage.exists(REJECTS)
    assert outcome.output_key == PROCESSED and outcome.records_rejected == 0


@pytest.mark.parametrize("body", [b"", HEADER.encode(), b"\xef\xbb\xbf" + HEADER.encode()])
def test_empty_or_header_only_is_zero_records_completed(storage, body):
    outcome = run(storage, body)
    assert (outcome.records_read, outcome.records_written, outcome.records_rejected) == (0, 0, 0)
    assert processed_numbers(storage) == []


@pytest.mark.parametrize(
    "body", [bytes(range(256)) * 20, (HEADER + line(name="Nuñez")).encode("latin-1")]
)
def test_binary_junk_or_wrong_encoding_is_unreadable(storage, body):
    with pytest.raises(UnreadableFileError) as info:
        run(storage, body)
    assert info.value.key == KEY
    assert not storage.exists(PROCESSED) and not storage.exists(REJECTS)


def test_wrong_shape_names_the_missing_column(storage):
    with pytest.raises(UnreadableFileError, match="CLIENT"):
        run(storage, b"EMP,NAME,DATE\nP1,Jane,2026-11-20\n")


def test_progress_after_each_chunk_and_cancel_publishes_nothing(storage):
    seen: list[ChunkProgress] = []
    run(storage, line() + line(emp="P2") + line(emp="P3", hours="x"), on_chunk=seen.append)
    # One call per chunk, then the final one right before publishing (same index, final totals).
    assert seen == [ChunkProgress(0, 2, 0), ChunkProgress(1, 3, 1), ChunkProgress(1, 3, 1)]
    storage.delete(PROCESSED)
    storage.delete(REJECTS)

    def cancel(progress: ChunkProgress) -> None:
        raise JobCancelledError("cancelled")

    with pytest.raises(JobCancelledError):
        run(storage, line() + line(emp="P2") + line(emp="P3", hours="x"), on_chunk=cancel)
    assert not storage.exists(PROCESSED) and not storage.exists(REJECTS)


def test_rejects_file_never_holds_a_raw_ssn_or_full_name(storage):
    body = (
        line(ssn="123-45-678")
        + line(emp="P2", name="Jane " + "Q" * 120)
        + line(emp="P3", name="Maria Garcia", ssn="555-66-7777", hours="99")
        + line(emp="P4", name="Maria Garcia", ssn="555667777") * 2
    )
    run(storage, body)
    text = storage.read_bytes(REJECTS).decode()
    for secret in ("123-45-678", "Jane", "Maria", "Garcia", "555-66-7777", "555667777"):
        assert secret not in text
    assert "***-**-5678" in text and "J. Q." in text


def test_cancel_after_the_last_chunk_publishes_nothing(storage):
    body = line() + line(emp="P2") + line(emp="P3", hours="x") + line(emp="P2")  # 1 duplicate
    calls: list[ChunkProgress] = []

    def cancel_at_the_final_call(progress: ChunkProgress) -> None:
        calls.append(progress)
        if len(calls) == 3:  # two chunks seen; this is the call right before publishing
            raise JobCancelledError("cancelled")

    with pytest.raises(JobCancelledError):
        run(storage, body, on_chunk=cancel_at_the_final_call)
    assert calls[-1] == ChunkProgress(1, 4, 2)  # the final totals include the duplicate
    assert not storage.exists(PROCESSED) and not storage.exists(REJECTS)
