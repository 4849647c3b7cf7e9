"""Fixtures for the storage tests: a real moto S3 server, fresh buckets, each backend."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.s3server import running_s3_server, s3_client
from timesheet_batch.storage import LocalStorage, Storage


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """Endpoint URL of one moto S3 server shared by the whole session."""
    with running_s3_server() as endpoint_url:
        yield endpoint_url


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    """A new, empty bucket of its own for each test."""
    name = f"ts-test-{uuid.uuid4().hex[:16]}"
    s3_client(s3_endpoint).create_bucket(Bucket=name)
    return name


@pytest.fixture
def local_storage(tmp_path: Path) -> LocalStorage:
    root = tmp_path / "root"
    root.mkdir()
    return LocalStorage(root)


@pytest.fixture
def s3_storage(s3_endpoint: str, s3_bucket: str) -> Storage:
    from timesheet_batch.storage import S3Storage

    return S3Storage(s3_bucket, "tenant", endpoint_url=s3_endpoint)


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest) -> Storage:
    """Each backend in turn; the S3 server starts only if an s3 case runs."""
    return request.getfixturevalue(f"{request.param}_storage")


@pytest.fixture
def make_file(tmp_path: Path):
    """Write bytes to a new local file and return its path (the thing to publish)."""
    counter = iter(range(1_000_000))

    def make(data: bytes) -> Path:
        path = tmp_path / f"upload-{next(counter)}.bin"
        path.write_bytes(data)
        return path

    return make
