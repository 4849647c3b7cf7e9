"""Storage on a local (or mounted) file system: one file per key under a root directory."""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import secrets
import shutil
import stat
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from timesheet_batch.errors import (
    ConfigurationError,
    ObjectNotFoundError,
    StorageError,
    StorageUnavailableError,
    UnsafeKeyError,
)
from timesheet_batch.storage.base import ObjectInfo, Storage
from timesheet_batch.storage.layout import safe_key

# Files being written carry this name prefix until their final rename; list() skips them.
TEMP_PREFIX = ".tmp-"
# mkstemp creates 0600 files; published objects must stay readable by the other processes
# (workers, reporting) that share the storage root, as a plain copy would be.
_PUBLISHED_MODE = 0o644


def safe_prefix(prefix: str) -> str:
    """Return a list prefix if it stays inside the root, else raise UnsafeKeyError.

    A prefix is ``""`` (everything), a folder ending in ``/`` or the start of a key; all
    but a trailing ``/`` must pass :func:`layout.safe_key`.
    """
    if prefix == "":
        return prefix
    if not isinstance(prefix, str):
        raise UnsafeKeyError("storage prefix must be a string", key=str(prefix)[:80])
    safe_key(prefix.removesuffix("/"))
    return prefix


class LocalStorage(Storage):
    """Keys are files under ``root``; writes go to a temp file then ``os.replace``.

    Every key is checked with ``layout.safe_key`` and its resolved path (symlinks
    followed) must stay under the resolved root.
    """

    def __init__(self, root: Path | str):
        self.root = Path(os.path.abspath(root))
        self.url = f"file://{self.root}"
        self._resolved: Path | None = None

    def __repr__(self) -> str:
        return f"LocalStorage({self.url!r})"

    # -- key to path -------------------------------------------------------------------------

    def _resolved_root(self) -> Path:
        # Resolved once (an lstat per path component each time was ~0.3 ms per file job); a
        # root that is a symlink is followed as it was when the storage was first used.
        if self._resolved is None:
            self._resolved = self.root.resolve()
        return self._resolved

    def _path(self, key: str) -> Path:
        """The resolved file path of ``key``; UnsafeKeyError if it leaves the root."""
        safe_key(key)
        root = self._resolved_root()
        # safe_key stops ".." and absolute keys, so only a symlink among the key's own
        # components can lead outside the root: lstat those (3-4), not every component of the
        # root again as Path.resolve does (~10 lstats and pathlib parsing per call).
        text = str(root)
        for part in key.split("/"):
            text = f"{text}/{part}"
            try:
                mode = os.lstat(text).st_mode
            except OSError:
                break  # missing (or not a folder): nothing below it exists to be a symlink
            if stat.S_ISLNK(mode):
                path = (root / key).resolve()
                if not path.is_relative_to(root):
                    raise UnsafeKeyError(f"storage key {key!r} resolves outside the storage root", key=key)
                return path
        return root / key

    # -- Storage -----------------------------------------------------------------------------

    def check(self) -> None:
        """Raise ConfigurationError unless the root is an existing directory."""
        try:
            if not self.root.exists():
                raise ConfigurationError(f"storage root {self.root} does not exist")
            if not self.root.is_dir():
                raise ConfigurationError(f"storage root {self.root} is not a directory")
            os.scandir(self.root).close()
        except PermissionError as exc:
            raise ConfigurationError(f"storage root {self.root} is not readable") from exc
        except OSError as exc:
            raise _unavailable(exc, f"storage root {self.root}") from exc

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every file whose key starts with ``prefix``, sorted by key.

        Only the folder the prefix names is walked, so listing one day stays cheap however
        large the root grows. Temp files, symlinked folders and files whose name is not a
        safe key are not objects and are skipped. The prefix is checked at once, not on the
        first ``next()``.
        """
        safe_prefix(prefix)
        folder = prefix if prefix.endswith("/") else posixpath.dirname(prefix)
        folder = folder.removesuffix("/")
        root = self._resolved_root()
        if folder:
            self._path(folder)  # refuses a folder that is, or passes, an escaping symlink
        try:
            infos = sorted(self._walk(root, root / folder, prefix), key=lambda info: info.key)
        except OSError as exc:
            raise _unavailable(exc, f"prefix {prefix!r}") from exc
        return iter(infos)

    def _walk(self, root: Path, top: Path, prefix: str) -> Iterator[ObjectInfo]:
        # followlinks=False: a symlinked folder could lead outside the root or loop.
        for dirpath, _dirnames, filenames in os.walk(top, followlinks=False):
            for name in filenames:
                if name.startswith(TEMP_PREFIX):
                    continue
                path = Path(dirpath, name)
                key = path.relative_to(root).as_posix()
                if not key.startswith(prefix) or not _is_safe_key(key):
                    continue
                if path.is_symlink() and not path.resolve().is_relative_to(root):
                    continue
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue  # deleted (or a dangling symlink) while we walked
                yield ObjectInfo(key, stat.st_size, f"{stat.st_size}-{stat.st_mtime_ns}")

    def open_read(self, key: str) -> BinaryIO:
        """The file opened for binary reading; ObjectNotFoundError if there is none."""
        path = self._path(key)
        try:
            return open(path, "rb")  # noqa: SIM115 - the caller closes the stream
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFoundError(f"no object at key {key!r}", key=key) from None
        except PermissionError as exc:
            raise StorageError(f"permission denied reading key {key!r}", key=key) from exc
        except OSError as exc:
            raise _unavailable(exc, f"key {key!r}") from exc

    def publish_file(self, local_path: Path, key: str) -> None:
        """Link (or copy) ``local_path`` next to the target, fsync it, then rename it into place.

        The rename is atomic within one directory, so readers see the old file or the new
        one, never a partial copy. The root itself is never created: a missing root means a
        wrong setting or an unmounted volume, and writing anyway would hide it.
        """
        path = self._path(key)
        with open(local_path, "rb") as source, _writing(key):
            tmp_name = _link_beside(source, path.parent) or _link_beside(source, self._make_folder(path, key))
            fd = None
            if tmp_name is None:  # another file system (or no hard links): copy
                fd, tmp_name = self._create_beside(path, key)
            try:
                if fd is not None:
                    with os.fdopen(fd, "wb") as tmp:
                        shutil.copyfileobj(source, tmp, length=1024 * 1024)
                with open(tmp_name, "rb") as tmp:
                    os.fchmod(tmp.fileno(), _PUBLISHED_MODE)
                    # Without fsync a crash after the rename can leave an empty file at the key.
                    os.fsync(tmp.fileno())
                os.replace(tmp_name, path)
            except BaseException:
                Path(tmp_name).unlink(missing_ok=True)
                raise
            _fsync_dir(path.parent)

    def write_bytes(self, key: str, data: bytes | memoryview) -> None:
        """Write ``data`` to a temp file beside the target, fsync it, rename it into place."""
        self.write_objects([(key, data)])

    def write_objects(self, objects: Sequence[tuple[str, bytes | memoryview]]) -> None:
        """Each object as by write_bytes, the renames after every fsync, then each folder's fsync.

        How a small file's outputs are published: one file created per object, none linked,
        copied or removed afterwards. Renaming every object before any folder fsync lets a
        journaling file system persist the renames in one commit (expected, not measured apart).
        """
        staged: list[tuple[str, Path, str]] = []
        try:
            for key, data in objects:
                path = self._path(key)
                with _writing(key):
                    fd, tmp_name = self._create_beside(path, key)
                    staged.append((key, path, tmp_name))
                    with os.fdopen(fd, "wb") as tmp:
                        tmp.write(data)
                        tmp.flush()
                        os.fsync(tmp.fileno())
            for key, path, tmp_name in staged:
                with _writing(key):
                    os.replace(tmp_name, path)
        except BaseException:
            for _, _, tmp_name in staged:
                Path(tmp_name).unlink(missing_ok=True)
            raise
        for folder in dict.fromkeys(path.parent for _, path, _ in staged):
            _fsync_dir(folder)

    def _create_beside(self, path: Path, key: str) -> tuple[int, str]:
        """A new, empty temp file in ``path``'s folder (made if missing): (fd, name).

        The temp file lives in the target's folder because os.replace is only atomic on one
        file system; its name prefix keeps it out of list().
        """
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
        except FileNotFoundError:  # a new folder (a new date or vendor): the rare case
            fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=self._make_folder(path, key))
        # mkstemp creates 0600: published objects are read by the other processes too.
        os.fchmod(fd, _PUBLISHED_MODE)
        return fd, tmp_name

    def _make_folder(self, path: Path, key: str) -> Path:
        """Create the folders above ``path`` (never the root itself); the folder."""
        if not self.root.is_dir():
            raise ConfigurationError(f"storage root {self.root} does not exist")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise StorageError(f"key {key!r} lies under an existing object", key=key) from exc
        return path.parent

    def delete(self, key: str) -> None:
        """Remove the file; no error if it is absent."""
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
        except (IsADirectoryError, NotADirectoryError):
            return  # a folder or a path through a file: no object there either way
        except PermissionError as exc:
            raise StorageError(f"permission denied deleting key {key!r}", key=key) from exc
        except OSError as exc:
            raise _unavailable(exc, f"key {key!r}") from exc

    def exists(self, key: str) -> bool:
        """Whether a regular file is stored under ``key``."""
        return self._path(key).is_file()


@contextlib.contextmanager
def _writing(key: str) -> Iterator[None]:
    """Translate what writing ``key`` can raise into the storage errors."""
    try:
        yield
    except IsADirectoryError as exc:
        raise StorageError(f"key {key!r} names a folder", key=key) from exc
    except NotADirectoryError as exc:
        raise StorageError(f"key {key!r} lies under an existing object", key=key) from exc
    except PermissionError as exc:
        raise StorageError(f"permission denied writing key {key!r}", key=key) from exc
    except OSError as exc:
        raise _unavailable(exc, f"key {key!r}") from exc


def _is_safe_key(key: str) -> bool:
    try:
        safe_key(key)
    except UnsafeKeyError:
        return False
    return True


def _link_beside(source: BinaryIO, folder: Path) -> str | None:
    """A hard link to ``source``'s file under a temp name in ``folder``; None if that cannot be.

    Work files are written once and then only deleted, so linking them publishes the same
    bytes as a copy would, without reading and writing them again (30 MB for a file of a
    million records). Another file system (EXDEV), a stream that is no file, or a file system
    without hard links falls back to the copy.
    """
    name = getattr(source, "name", None)
    if not isinstance(name, str):
        return None
    for _ in range(10):
        tmp_name = os.path.join(folder, f"{TEMP_PREFIX}{secrets.token_hex(8)}")
        try:
            os.link(name, tmp_name)
        except FileExistsError:
            continue
        except OSError:
            return None
        return tmp_name
    return None


def _fsync_dir(folder: Path) -> None:
    """Persist a rename; best effort, as some file systems cannot fsync a directory."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _unavailable(exc: OSError, what: str) -> StorageUnavailableError:
    # Name the errno, not str(exc): that would repeat full paths and the OS message.
    code = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
    return StorageUnavailableError(f"local storage failed on {what}: {code}")
