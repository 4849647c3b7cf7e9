"""S3Storage specifics against a real (moto) S3 server: prefixes, bucket checks, failures."""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
import time
from collections.abc import Iterator

import pytest

from tests.s3server import s3_client
from timesheet_batch.errors import (
    ConfigurationError,
    ObjectNotFoundError,
    StorageUnavailableError,
)
from timesheet_batch.storage import S3Storage


def test_url(s3_storage: S3Storage, s3_bucket: str) -> None:
    assert s3_storage.url == f"s3://{s3_bucket}/tenant"


def test_keys_live_under_the_prefix(s3_storage, s3_bucket, s3_endpoint) -> None:
    s3_storage.write_bytes("inbound/2024-01-02/acme/a.csv", b"1")
    client = s3_client(s3_endpoint)

    stored = [o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert stored == ["tenant/inbound/2024-01-02/acme/a.csv"]
    [info] = s3_storage.list("")
    assert info.key == "inbound/2024-01-02/acme/a.csv"
    assert info.fingerprint == client.head_object(
        Bucket=s3_bucket, Key="tenant/inbound/2024-01-02/acme/a.csv"
    )["ETag"].strip('"')


def test_empty_prefix_uses_the_bucket_root(s3_bucket, s3_endpoint) -> None:
    storage = S3Storage(s3_bucket, "", endpoint_url=s3_endpoint)
    storage.write_bytes("a.csv", b"1")
    assert s3_client(s3_endpoint).get_object(Bucket=s3_bucket, Key="a.csv")["Body"].read() == b"1"
    assert [info.key for info in storage.list("")] == ["a.csv"]


def test_list_ignores_other_prefixes_and_unaddressable_keys(
    s3_storage, s3_bucket, s3_endpoint
) -> None:
    client = s3_client(s3_endpoint)
    for key in ("other/a.csv", "tenantx/a.csv", "tenant/dir/", "tenant/a//b", "tenant/ok.csv"):
        client.put_object(Bucket=s3_bucket, Key=key, Body=b"1")

    assert [info.key for info in s3_storage.list("")] == ["ok.csv"]


def test_check_missing_bucket(s3_endpoint: str) -> None:
    storage = S3Storage("no-such-bucket-here", "", endpoint_url=s3_endpoint)
    with pytest.raises(ConfigurationError, match="no-such-bucket-here"):
        storage.check()


def test_reading_from_a_missing_bucket_is_a_configuration_error(s3_endpoint: str) -> None:
    storage = S3Storage("no-such-bucket-here", "", endpoint_url=s3_endpoint)
    with pytest.raises(ConfigurationError, match="no-such-bucket-here"):
        storage.open_read("a.csv")


def test_unreachable_endpoint_is_transient_and_fast(make_file) -> None:
    storage = S3Storage("bucket", "p", endpoint_url="http://127.0.0.1:1", connect_timeout_s=1)
    source = make_file(b"x")
    # One call per code path (plain request, s3transfer upload, paginator); each waits for
    # botocore's one retry, up to 2 s of backoff.
    for call in (
        storage.check,
        lambda: storage.publish_file(source, "a.csv"),
        lambda: list(storage.list("")),
    ):
        started = time.monotonic()
        with pytest.raises(StorageUnavailableError, match="127.0.0.1:1"):
            call()
        assert time.monotonic() - started < 5


class _BusyHandler(http.server.BaseHTTPRequestHandler):
    """Answers every request like an overloaded S3: 503 SlowDown."""

    def _busy(self) -> None:
        body = b"<Error><Code>SlowDown</Code><Message>Please reduce</Message></Error>"
        self.send_response(503)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_PUT = do_DELETE = _busy

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def busy_endpoint() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BusyHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_server_errors_and_throttling_are_transient(busy_endpoint: str) -> None:
    storage = S3Storage("bucket", "", endpoint_url=busy_endpoint)
    for call in (storage.check, lambda: storage.open_read("a")):
        with pytest.raises(StorageUnavailableError):
            call()


def test_missing_credentials_are_a_configuration_error(s3_endpoint, tmp_path, monkeypatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)

    with pytest.raises(ConfigurationError, match="credentials"):
        S3Storage("bucket", "", endpoint_url=s3_endpoint).check()


def test_large_file_uses_multipart_and_is_never_seen_partial(
    s3_storage, s3_bucket, s3_endpoint, make_file
) -> None:
    data = os.urandom(20 * 1024 * 1024)
    digest = hashlib.sha256(data).digest()
    key = "processed/2024-01-02/acme/big.csv.parquet"
    source = make_file(data)
    done = threading.Event()
    observed: list[object] = []

    def poll() -> None:
        while not done.is_set():
            try:
                with s3_storage.open_read(key) as stream:
                    observed.append(hashlib.sha256(stream.read()).digest())
            except ObjectNotFoundError:
                observed.append(None)
            except Exception as exc:  # recorded; fails the test below
                observed.append(exc)
            time.sleep(0.01)

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        s3_storage.publish_file(source, key)
    finally:
        done.set()
        reader.join()

    assert observed and set(map(type, observed)) <= {type(None), bytes}
    assert all(item in (None, digest) for item in observed)
    head = s3_client(s3_endpoint).head_object(Bucket=s3_bucket, Key=f"tenant/{key}")
    assert "-" in head["ETag"]  # a multipart ETag: "<md5 of part md5s>-<part count>"
    [info] = s3_storage.list("processed/")
    assert info.size_bytes == len(data)
    with s3_storage.open_read(key) as stream:
        assert hashlib.sha256(stream.read()).digest() == digest


def test_bad_bucket_or_prefix_is_a_configuration_error() -> None:
    for bucket, prefix in (("", ""), ("a/b", ""), ("bucket", "../up"), ("bucket", "a//b")):
        with pytest.raises(ConfigurationError):
            S3Storage(bucket, prefix)
