"""Behaviour every Storage backend shares, run against each one (the ``storage`` fixture)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from timesheet_batch.errors import ConfigurationError, ObjectNotFoundError, UnsafeKeyError
from timesheet_batch.pipeline.run_outputs import input_size
from timesheet_batch.storage import LocalStorage, ObjectInfo, Storage, open_storage

UNSAFE_KEYS = ["../x", "/abs", "a/../b", "a\\b", "", "a//b", "./a", "a/", "a\x00b"]


def test_round_trip(storage: Storage, make_file) -> None:
    key = "inbound/2024-01-02/acme/hours.csv"
    assert not storage.exists(key)

    storage.publish_file(make_file(b"id,hours\n1,8\n"), key)

    assert storage.exists(key)
    assert storage.read_bytes(key) == b"id,hours\n1,8\n"
    [info] = storage.list("inbound/")
    assert (info.key, info.size_bytes) == (key, len(b"id,hours\n1,8\n"))
    assert info.fingerprint
    storage.delete(key)
    assert not storage.exists(key)
    assert list(storage.list("")) == []
    storage.delete(key)  # absent: no error


def test_write_bytes(storage: Storage) -> None:
    storage.write_bytes("reports/2024-01-02/summary.json", b"{}")
    assert storage.read_bytes("reports/2024-01-02/summary.json") == b"{}"


def test_list_is_sorted_and_prefix_scoped(storage: Storage) -> None:
    keys = [
        "inbound/2024-01-02/v2/a.csv",
        "inbound/2024-01-02/v1/b.csv",
        "inbound/2024-01-02-x/v1/a.csv",
        "inbound/2024-01-02/v1/a.csv",
        "inbound/2024-01-03/v1/a.csv",
        "processed/2024-01-02/v1/a.csv.parquet",
    ]
    for key in keys:
        storage.write_bytes(key, key.encode())

    listed = list(storage.list("inbound/2024-01-02/"))

    assert [info.key for info in listed] == [
        "inbound/2024-01-02/v1/a.csv",
        "inbound/2024-01-02/v1/b.csv",
        "inbound/2024-01-02/v2/a.csv",
    ]
    assert all(isinstance(info, ObjectInfo) for info in listed)
    assert listed[0].size_bytes == len(b"inbound/2024-01-02/v1/a.csv")
    # A prefix that ends inside a name matches like str.startswith.
    assert [i.key for i in storage.list("inbound/2024-01-02")] == sorted(keys[:4])
    assert [i.key for i in storage.list("")] == sorted(keys)
    assert list(storage.list("outbound/")) == []
    assert list(storage.list("inbound/2024-01-02/v1/a.csv")) == listed[:1]


def test_overwrite_replaces(storage: Storage) -> None:
    key = "outbound/acme/2024-01-02/out.csv"
    storage.write_bytes(key, b"old contents")
    [before] = storage.list(key)

    storage.write_bytes(key, b"new")

    assert storage.read_bytes(key) == b"new"
    [after] = storage.list(key)
    assert after.size_bytes == 3
    assert after.fingerprint != before.fingerprint


def test_missing_key(storage: Storage) -> None:
    with pytest.raises(ObjectNotFoundError) as caught:
        storage.open_read("inbound/2024-01-02/acme/none.csv")
    assert caught.value.key == "inbound/2024-01-02/acme/none.csv"
    assert not storage.exists("inbound/2024-01-02/acme/none.csv")


def test_open_read_stream(storage: Storage) -> None:
    storage.write_bytes("a/b.bin", b"0123456789")
    with storage.open_read("a/b.bin") as stream:
        assert input_size(stream) == 10  # what decides whether a run keeps its outputs in memory
        assert stream.read(4) == b"0123"
        assert stream.read() == b"456789"
        assert stream.read() == b""
    assert stream.closed


@pytest.mark.parametrize("key", UNSAFE_KEYS)
def test_unsafe_keys_are_refused(storage: Storage, make_file, key: str) -> None:
    source = make_file(b"x")
    for call in (
        lambda: storage.open_read(key),
        lambda: storage.publish_file(source, key),
        lambda: storage.write_bytes(key, b"x"),
        lambda: storage.delete(key),
        lambda: storage.exists(key),
    ):
        with pytest.raises(UnsafeKeyError):
            call()
    assert list(storage.list("")) == []


@pytest.mark.parametrize("prefix", ["../", "/abs/", "a/../", "a\\", "a//"])
def test_unsafe_prefixes_are_refused(storage: Storage, prefix: str) -> None:
    with pytest.raises(UnsafeKeyError):
        storage.list(prefix)  # at the call, not on the first next()


def test_check_passes(storage: Storage) -> None:
    storage.check()


def test_reader_never_sees_a_partial_object(storage: Storage, make_file) -> None:
    key = "processed/2024-01-02/acme/big.csv.parquet"
    versions = [bytes([65 + n]) * (2 * 1024 * 1024) for n in range(2)]
    sources = [make_file(data) for data in versions]
    storage.publish_file(sources[0], key)
    done = threading.Event()
    seen: list[bytes | Exception] = []

    def read_until_done() -> None:
        while not done.is_set():
            try:
                seen.append(storage.read_bytes(key))
            except Exception as exc:  # recorded; any error fails the test below
                seen.append(exc)

    reader = threading.Thread(target=read_until_done)
    reader.start()
    try:
        for round_ in range(6):
            storage.publish_file(sources[round_ % 2], key)
    finally:
        done.set()
        reader.join()

    assert seen
    bad = [item if isinstance(item, Exception) else len(item) for item in seen
           if item not in versions]
    assert bad == []


# -- open_storage: the backend registry -------------------------------------------------------


def test_open_storage_file(tmp_path: Path) -> None:
    storage = open_storage(f"file://{tmp_path}")
    assert isinstance(storage, LocalStorage)
    assert storage.root == tmp_path
    assert storage.url == f"file://{tmp_path}"
    assert open_storage(storage.url).root == tmp_path  # round trip


def test_open_storage_s3() -> None:
    from timesheet_batch.storage import S3Storage

    storage = open_storage("s3://my-bucket/team/a/", s3_endpoint_url="http://127.0.0.1:9")
    assert isinstance(storage, S3Storage)
    assert (storage.bucket, storage.prefix) == ("my-bucket", "team/a")
    assert storage.endpoint_url == "http://127.0.0.1:9"
    assert storage.url == "s3://my-bucket/team/a"
    assert open_storage("s3://my-bucket").prefix == ""


@pytest.mark.parametrize(
    "url", ["ftp://host/x", "/just/a/path", "s3:///no-bucket", "file://", "s3://b/../up"]
)
def test_open_storage_refuses_bad_urls(url: str) -> None:
    with pytest.raises(ConfigurationError):
        open_storage(url)


def test_importing_storage_does_not_import_boto3() -> None:
    code = (
        "import sys, timesheet_batch.storage as s\n"
        "s.open_storage('file:///tmp')\n"
        "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules\n"
        "assert s.S3Storage.__name__ == 'S3Storage' and 'boto3' in sys.modules\n"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True, timeout=60)
