"""Fixtures for the storage tests: a real moto S3 server, fresh buckets, each backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from timesheet_batch.storage import LocalStorage, Storage


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
