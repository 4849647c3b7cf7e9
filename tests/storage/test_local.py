"""LocalStorage specifics: symlink escapes, the storage root, temp files and atomic rename."""

from __future__ import annotations

import errno
import os
import shutil
import stat
from pathlib import Path

import pytest

from timesheet_batch.errors import (
    ConfigurationError,
    StorageError,
    StorageUnavailableError,
    UnsafeKeyError,
)
from timesheet_batch.storage import LocalStorage
from timesheet_batch.storage.local import TEMP_PREFIX


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the root holding a file nobody may reach through the storage."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_bytes(b"secret")
    return folder


def test_url_names_the_root(local_storage: LocalStorage) -> None:
    assert local_storage.url == f"file://{local_storage.root}"


def test_relative_root_is_made_absolute(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert LocalStorage(Path("data")).root == tmp_path / "data"


def test_symlinked_folder_escape_is_refused(local_storage, outside, make_file) -> None:
    (local_storage.root / "link").symlink_to(outside, target_is_directory=True)

    for call in (
        lambda: local_storage.open_read("link/secret.txt"),
        lambda: local_storage.publish_file(make_file(b"x"), "link/new.txt"),
        lambda: local_storage.delete("link/secret.txt"),
        lambda: local_storage.exists("link/secret.txt"),
        lambda: local_storage.list("link/"),
    ):
        with pytest.raises(UnsafeKeyError):
            call()
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert list(local_storage.list("")) == []  # the walk does not follow the link


def test_symlinked_file_escape_is_refused(local_storage, outside) -> None:
    (local_storage.root / "evil.txt").symlink_to(outside / "secret.txt")

    with pytest.raises(UnsafeKeyError):
        local_storage.read_bytes("evil.txt")
    assert list(local_storage.list("")) == []


def test_symlink_inside_the_root_is_allowed(local_storage) -> None:
    local_storage.write_bytes("real/a.csv", b"a")
    (local_storage.root / "alias").symlink_to(local_storage.root / "real")

    assert local_storage.read_bytes("alias/a.csv") == b"a"
    assert [info.key for info in local_storage.list("alias/")] == ["alias/a.csv"]


def test_check_missing_root(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="storage root .* does not exist"):
        LocalStorage(tmp_path / "missing").check()


def test_check_root_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(ConfigurationError, match="not a directory"):
        LocalStorage(tmp_path / "file").check()


def test_publish_does_not_create_a_missing_root(tmp_path: Path, make_file) -> None:
    storage = LocalStorage(tmp_path / "unmounted")
    with pytest.raises(ConfigurationError):
        storage.publish_file(make_file(b"x"), "a/b.csv")
    assert not (tmp_path / "unmounted").exists()


def test_publish_creates_parent_folders(local_storage, make_file) -> None:
    local_storage.publish_file(make_file(b"x"), "a/b/c/d.csv")
    path = local_storage.root / "a/b/c/d.csv"
    assert path.read_bytes() == b"x"
    # Readable by the other processes sharing the root, unlike mkstemp's 0600.
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_publish_renames_a_complete_temp_file_from_the_same_folder(
    local_storage, make_file, monkeypatch
) -> None:
    key = "processed/2024-01-02/acme/a.csv.parquet"
    data = os.urandom(3 * 1024 * 1024)
    final = local_storage.root / key
    local_storage.write_bytes(key, b"previous")
    real_replace = os.replace
    renames = []

    def checking_replace(src, dst):
        src, dst = Path(src), Path(dst)
        # At the moment of the rename: the whole file sits under a temp name in the
        # target's own folder, readers still see the previous object, list() hides it.
        assert src.parent == dst.parent == final.parent
        assert src.name.startswith(TEMP_PREFIX)
        assert src.read_bytes() == data
        assert final.read_bytes() == b"previous"
        assert [i.key for i in local_storage.list("processed/")] == [key]
        renames.append(src)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", checking_replace)
    local_storage.publish_file(make_file(data), key)

    assert len(renames) == 1
    assert final.read_bytes() == data
    assert os.listdir(final.parent) == ["a.csv.parquet"]


def _no_links(monkeypatch) -> None:
    """Make every hard link fail as across file systems, so publish_file copies."""
    def cross_device(src, dst, *args, **kwargs):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)


def test_publish_links_the_work_file_instead_of_copying(local_storage, make_file, monkeypatch) -> None:
    source = make_file(b"parquet bytes")
    monkeypatch.setattr(shutil, "copyfileobj", lambda *a, **k: pytest.fail("copied, not linked"))
    local_storage.publish_file(source, "processed/a.parquet")

    published = local_storage.root / "processed" / "a.parquet"
    assert published.read_bytes() == b"parquet bytes"
    assert os.path.samefile(source, published)  # the same inode: no bytes were copied
    source.unlink()  # the caller's work directory goes away; the object stays
    assert local_storage.read_bytes("processed/a.parquet") == b"parquet bytes"
    assert published.stat().st_mode & 0o777 == 0o644
    assert os.listdir(published.parent) == ["a.parquet"]


def test_publish_copies_across_file_systems(local_storage, make_file, monkeypatch) -> None:
    _no_links(monkeypatch)
    source = make_file(b"x" * 3_000_000)
    local_storage.publish_file(source, "processed/big.parquet")

    published = local_storage.root / "processed" / "big.parquet"
    assert not os.path.samefile(source, published)
    assert published.read_bytes() == b"x" * 3_000_000
    assert os.listdir(published.parent) == ["big.parquet"]


def test_failed_copy_leaves_no_temp_and_no_object(local_storage, make_file, monkeypatch) -> None:
    def failing_copy(source, target, length=0):
        target.write(source.read(10))
        raise OSError(28, "No space left on device")

    _no_links(monkeypatch)
    monkeypatch.setattr(shutil, "copyfileobj", failing_copy)
    with pytest.raises(StorageUnavailableError, match="ENOSPC"):
        local_storage.publish_file(make_file(b"x" * 100), "a/b.csv")

    assert not local_storage.exists("a/b.csv")
    assert os.listdir(local_storage.root / "a") == []


def test_write_bytes_creates_only_the_object_readable_by_all(local_storage) -> None:
    local_storage.write_bytes("a/b/c.csv", memoryview(b"data"))
    path = local_storage.root / "a/b/c.csv"
    assert path.read_bytes() == b"data"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert os.listdir(path.parent) == ["c.csv"]  # no temp file left beside it


def test_write_bytes_does_not_create_a_missing_root(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "unmounted")
    with pytest.raises(ConfigurationError):
        storage.write_bytes("a/b.csv", b"x")
    assert not (tmp_path / "unmounted").exists()


def test_failed_write_bytes_leaves_no_temp_and_keeps_the_old_object(local_storage, monkeypatch) -> None:
    local_storage.write_bytes("a/b.csv", b"old")

    def failing_fsync(fd):
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(StorageUnavailableError, match="EIO"):
        local_storage.write_bytes("a/b.csv", b"new")
    assert local_storage.read_bytes("a/b.csv") == b"old"
    assert os.listdir(local_storage.root / "a") == ["b.csv"]


def test_write_objects_stages_every_object_before_renaming_any(local_storage, monkeypatch) -> None:
    local_storage.write_objects([("p/1.parquet", b"one"), ("r/1.csv", b"two")])
    assert local_storage.read_bytes("p/1.parquet") == b"one" and local_storage.read_bytes("r/1.csv") == b"two"
    fsyncs = []
    real_fsync = os.fsync

    def second_fsync_fails(fd):
        fsyncs.append(fd)
        if len(fsyncs) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", second_fsync_fails)
    with pytest.raises(StorageUnavailableError, match="ENOSPC"):
        local_storage.write_objects([("p/1.parquet", b"new one"), ("r/1.csv", b"new two")])
    # Nothing of the failed set was renamed into place, and no temp file is left.
    assert local_storage.read_bytes("p/1.parquet") == b"one" and local_storage.read_bytes("r/1.csv") == b"two"
    assert os.listdir(local_storage.root / "p") == ["1.parquet"] and os.listdir(local_storage.root / "r") == ["1.csv"]


def test_write_bytes_over_a_folder_is_refused(local_storage) -> None:
    local_storage.write_bytes("a/b/c.csv", b"x")
    with pytest.raises(StorageError, match="names a folder"):
        local_storage.write_bytes("a/b", b"x")
    assert os.listdir(local_storage.root / "a") == ["b"]


def test_list_skips_temp_files(local_storage) -> None:
    local_storage.write_bytes("a/done.csv", b"1")
    (local_storage.root / "a" / f"{TEMP_PREFIX}half").write_bytes(b"partial")

    assert [info.key for info in local_storage.list("a/")] == ["a/done.csv"]


def test_list_walks_only_the_prefix_folder(local_storage, monkeypatch) -> None:
    for key in ("inbound/2024-01-02/v1/a.csv", "inbound/2024-01-03/v1/a.csv", "other/x/y.csv"):
        local_storage.write_bytes(key, b"1")
    scanned: list[Path] = []
    real_scandir = os.scandir

    def recording_scandir(path="."):
        scanned.append(Path(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", recording_scandir)
    keys = [info.key for info in local_storage.list("inbound/2024-01-02/")]

    assert keys == ["inbound/2024-01-02/v1/a.csv"]
    top = local_storage.root.resolve() / "inbound/2024-01-02"
    assert scanned and all(path.is_relative_to(top) for path in scanned)


def test_fingerprint_is_size_and_mtime(local_storage) -> None:
    local_storage.write_bytes("a.csv", b"abc")
    [info] = local_storage.list("")
    st = (local_storage.root / "a.csv").stat()
    assert info.fingerprint == f"3-{st.st_mtime_ns}"


def test_key_under_an_existing_object_is_refused(local_storage) -> None:
    local_storage.write_bytes("a", b"file")
    with pytest.raises(StorageError):
        local_storage.write_bytes("a/b", b"x")
    assert not local_storage.exists("a/b")
    local_storage.delete("a/b")  # a path through a file: nothing to delete


def test_a_folder_is_not_an_object(local_storage) -> None:
    local_storage.write_bytes("a/b.csv", b"x")
    assert not local_storage.exists("a")
    with pytest.raises(StorageError):
        local_storage.open_read("a")
