"""Atomic writes, checksums and safe loaders.

Every output of every stage is written through `atomic_write`, so a killed or failing stage never
leaves a half-written file where DVC or a later stage would trust it. Every load of a downloaded,
cached or user file goes through a loader here that refuses pickles.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from convnets.errors import ConvnetsError

log = logging.getLogger(__name__)

TEMP_MARKER = ".tmp-"
_UMASK = os.umask(0)
os.umask(_UMASK)
_CHUNK = 1 << 20  # 1 MiB reads keep memory flat on the 170 MB CIFAR archive


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temp file beside `path`; on success fsync and rename it over `path`.

    The temp file lives in the same folder so that the rename is atomic (same filesystem). On any
    exception the temp file is removed and `path` keeps its previous content, if any.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}{TEMP_MARKER}")
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp's 0600 would make outputs private to root
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.errno in _WRITE_FIXES:
            raise _write_failed(path, exc) from None
        raise
    _fsync_dir(path.parent)


# Errors of the disk, not of the code: each gets a message that names the file and the remedy.
_WRITE_FIXES = {
    errno.ENOSPC: "free space on that disk and rerun",
    errno.EDQUOT: "free space within your disk quota (or raise it) and rerun",
    errno.EFBIG: "the file is larger than this process or filesystem allows (`ulimit -f`)",
    errno.EROFS: "the filesystem is read-only; write the outputs somewhere writable",
}


def _write_failed(path: Path, exc: OSError) -> ConvnetsError:
    reason = exc.strerror or str(exc)
    return ConvnetsError(
        f"could not write {path}: {reason} ({errno.errorcode[exc.errno]}). The previous {path.name}"
        f", if any, is unchanged and no temp file was left. Fix: {_WRITE_FIXES[exc.errno]}."
    )


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable: without it a crash can forget the new directory entry."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write pretty, key-sorted JSON so that reruns with equal content give equal bytes."""
    with atomic_write(path, "w") as handle:
        json.dump(obj, handle, indent=2, sort_keys=True)
        handle.write("\n")


def read_json(path: str | os.PathLike, producer: str) -> Any:
    """Read JSON written by a stage; a missing or corrupt file names the stage to rerun."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConvnetsError(f"{path} does not exist. Fix: run `dvc repro {producer}`.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConvnetsError(
            f"{path} is not valid JSON ({exc}). Fix: run `dvc repro --force {producer}`."
        ) from None


def copy_file(source: str | os.PathLike, dest: str | os.PathLike, producer: str) -> None:
    """Copy `source` to `dest` byte for byte, atomically. Equal bytes give DVC an equal hash, so
    a stage that depends on `dest` alone does not rerun when only other files changed."""
    try:
        reader = open(source, "rb")  # noqa: SIM115 (closed by the `with` below)
    except FileNotFoundError:
        raise ConvnetsError(f"{source} does not exist. Fix: run `dvc repro {producer}`.") from None
    with reader, atomic_write(dest) as handle:
        shutil.copyfileobj(reader, handle, _CHUNK)


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """Save arrays uncompressed (loading speed beats disk size at these sizes), atomically."""
    for name, array in arrays.items():
        if array.dtype == object:
            raise TypeError(f"array {name!r} has dtype object, which would need pickle")
    with atomic_write(path) as handle:
        np.savez(handle, **arrays)


def load_npz(
    path: str | os.PathLike, keys: tuple[str, ...], producer: str
) -> dict[str, np.ndarray]:
    """Load every array of an `.npz` without pickle, checking the expected keys are there."""
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in keys if k not in data.files]
            if missing:
                raise ConvnetsError(
                    f"{path} lacks arrays {missing}; it was written by another version. "
                    f"Fix: run `dvc repro --force {producer}`."
                )
            return {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise ConvnetsError(f"{path} does not exist. Fix: run `dvc repro {producer}`.") from None
    except ConvnetsError:
        raise
    except Exception as exc:  # zipfile.BadZipFile, ValueError (pickled object), EOFError, ...
        raise ConvnetsError(
            f"{path} is corrupt or unreadable ({type(exc).__name__}: {exc}). "
            f"Fix: run `dvc repro --force {producer}`."
        ) from None


def file_digests(path: str | os.PathLike) -> dict[str, str | int]:
    """md5 (what upstreams publish), sha256 (what we record) and the size, in one read."""
    md5, sha256, size = hashlib.md5(), hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            md5.update(chunk)
            sha256.update(chunk)
            size += len(chunk)
    return {"md5": md5.hexdigest(), "sha256": sha256.hexdigest(), "size": size}


def remove_stale_temps(folder: str | os.PathLike) -> None:
    """Delete temp files that a killed run left in `folder` before DVC could see them."""
    folder = Path(folder)
    if folder.is_dir():
        for stale in folder.glob(f".*{TEMP_MARKER}*"):
            log.info("removing %s, left by an interrupted run", stale)
            stale.unlink()


def safe_extract_tar(archive: str | os.PathLike, dest: str | os.PathLike) -> None:
    """Extract a tar archive, refusing the whole archive if any member could escape `dest`.

    `filter="data"` already blocks `..`, links out of `dest` and device files, but it rewrites an
    absolute name to a relative one instead of failing. A dataset archive has no reason to hold
    any of these, so one such member means the file is not what we expect: refuse it all.
    """
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            name = member.name
            if name.startswith(("/", "\\")) or ".." in Path(name).parts:
                raise ConvnetsError(f"{archive}: unsafe member path {name!r}; refusing archive")
            if member.issym() or member.islnk():
                raise ConvnetsError(f"{archive}: member {name!r} is a link; refusing archive")
        try:
            tar.extractall(dest, filter="data")
        except tarfile.FilterError as exc:
            raise ConvnetsError(f"{archive}: {exc}; refusing archive") from None


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """A temp folder beside `path` to fill; on success it replaces `path` by renames.

    A failure leaves `path` as it was and removes the temp folder. Between the two renames
    `path` is briefly absent (never half-written): a reader sees the old or the new folder.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}{TEMP_MARKER}"))
    try:
        os.chmod(tmp, 0o777 & ~_UMASK)
        yield tmp
        old = path.with_name(f".{path.name}{TEMP_MARKER}old")
        shutil.rmtree(old, ignore_errors=True)
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError) and exc.errno in _WRITE_FIXES:
            raise _write_failed(path, exc) from None
        raise
    _fsync_dir(path.parent)
