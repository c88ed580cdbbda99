"""Fetch a dataset's upstream files from local folders or mirrors, verified before they are kept.

Each upstream file is tried source by source (local folders first, then mirrors); any failure of
a source, a checksum mismatch included, moves on to the next. What is kept in the output folder
is the verified payload (IDX files decompressed, CIFAR-10 batches extracted), so it is the same
bytes whichever source served it, and it is written atomically.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

from convnets import io
from convnets.data.datasets import (
    CIFAR_DIR,
    CIFAR_RECORD_BYTES,
    CIFAR_TEST_BATCH,
    CIFAR_TRAIN_BATCHES,
    DatasetSpec,
    RemoteFile,
    payload_name,
)
from convnets.errors import ConvnetsError

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
_CHUNK = 1 << 20


class SourceFailed(Exception):
    """This source could not provide a good copy of the file; try the next one."""


@dataclass(frozen=True)
class Source:
    """A local folder or a mirror's base URL that may hold a dataset's upstream files."""

    location: str

    @property
    def is_url(self) -> bool:
        return self.location.startswith(("http://", "https://"))

    def where(self, remote: RemoteFile) -> str:
        if self.is_url:
            return self.location + remote.name
        return str(Path(self.location) / remote.name)


def default_sources(spec: DatasetSpec, local_dirs: list[str], mirrors: list[str]) -> list[Source]:
    """Local folders, then the user's mirrors, then the registry's (duplicates dropped)."""
    ordered = [*local_dirs, *mirrors, *spec.mirrors]
    return [Source(location) for location in dict.fromkeys(ordered)]


def download_dataset(
    spec: DatasetSpec, out_dir: Path, sources: list[Source], timeout_s: float
) -> dict:
    """Put every verified payload of `spec` into `out_dir` and write its manifest."""
    out_dir.mkdir(parents=True, exist_ok=True)
    io.remove_stale_temps(out_dir)
    kept: dict[str, dict] = {}
    for remote in spec.files:
        kept.update(_fetch_one(spec, remote, out_dir, sources, timeout_s))
    manifest = {"dataset": spec.name, "files": kept}
    io.write_json(out_dir / MANIFEST, manifest)
    return manifest


def _fetch_one(
    spec: DatasetSpec, remote: RemoteFile, out_dir: Path, sources: list[Source], timeout_s: float
) -> dict[str, dict]:
    failures = []
    for source in sources:
        where = source.where(remote)
        try:
            with tempfile.TemporaryDirectory(prefix="convnets-download-") as tmp:
                fetched = _fetch(source, remote, Path(tmp), timeout_s)
                kept = _verify_and_keep(spec, remote, fetched, out_dir, Path(tmp))
        except (SourceFailed, OSError, EOFError, tarfile.TarError, ConvnetsError) as exc:
            reason = str(exc) or type(exc).__name__
            log.warning("%s: %s; trying the next source", where, reason)
            failures.append(f"  - {where}: {reason}")
            continue
        log.info("%s: verified (md5 matches %s)", where, remote.md5_from)
        for record in kept.values():
            record["source"] = where
        return kept
    raise ConvnetsError(_all_failed_message(spec, remote, failures))


def _all_failed_message(spec: DatasetSpec, remote: RemoteFile, failures: list[str]) -> str:
    tried = "\n".join(failures) or "  (no sources configured)"
    debian = (
        "install the Debian package (`apt-get install dataset-fashion-mnist`), "
        if spec.name == "fashion-mnist"
        else ""
    )
    return (
        f"could not get a verified copy of {spec.name} file {remote.name} from any source:\n"
        f"{tried}\n"
        f"Fix: {debian}add a reachable mirror to download.mirrors in params.yaml "
        f"(e.g. `dvc exp run -S 'download.mirrors=[\"https://host/path/\"]'`), "
        f"or put the upstream file {remote.name} in a folder listed in download.local_dirs."
    )


def _fetch(source: Source, remote: RemoteFile, tmp: Path, timeout_s: float) -> Path:
    """Return a local path to the upstream file: the file itself for a folder, else a download."""
    if not source.is_url:
        path = Path(source.where(remote))
        if not path.is_file():
            raise SourceFailed("not found")
        return path
    target = tmp / remote.name
    _http_download(source.where(remote), target, timeout_s)
    return target


class _NoDowngradeRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects, but never from https to anything else."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if req.full_url.startswith("https://") and not newurl.startswith("https://"):
            raise SourceFailed(f"refused redirect from https to {newurl}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_NoDowngradeRedirects)


def _http_download(url: str, target: Path, timeout_s: float) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "convnets-downloader"})
    try:
        with _OPENER.open(request, timeout=timeout_s) as response, open(target, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            progress = tqdm(total=total, unit="B", unit_scale=True, desc=target.name, disable=None)
            with progress as bar:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    bar.update(len(chunk))
            if total is not None and out.tell() != total:
                raise SourceFailed(f"connection closed after {out.tell()} of {total} bytes")
    except urllib.error.HTTPError as exc:
        raise SourceFailed(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise SourceFailed(f"unreachable ({exc.reason})") from None
    except TimeoutError:
        raise SourceFailed(f"timed out after {timeout_s:g} s") from None


def _verify_and_keep(
    spec: DatasetSpec, remote: RemoteFile, fetched: Path, out_dir: Path, tmp: Path
) -> dict[str, dict]:
    if spec.format == "idx":
        return _keep_idx_payload(remote, fetched, out_dir)
    return _keep_cifar_batches(remote, fetched, out_dir, tmp)


def _keep_idx_payload(remote: RemoteFile, gz_path: Path, out_dir: Path) -> dict[str, dict]:
    """Decompress while hashing; the payload replaces the old file only if its md5 matches."""
    name = payload_name(remote)
    md5, sha256 = hashlib.md5(), hashlib.sha256()
    with io.atomic_write(out_dir / name) as out, gzip.open(gz_path, "rb") as payload:
        size = _copy_hashing(payload, out, (md5, sha256), remote.size, f"gunzip {name}")
        _check(remote, md5.hexdigest(), size)
    return {name: {"md5": md5.hexdigest(), "sha256": sha256.hexdigest(), "size": size}}


def _copy_hashing(src: BinaryIO, dst: BinaryIO, hashes: tuple, total: int | None, desc: str) -> int:
    size = 0
    with tqdm(total=total, unit="B", unit_scale=True, desc=desc, disable=None) as bar:
        while chunk := src.read(_CHUNK):
            for digest in hashes:
                digest.update(chunk)
            dst.write(chunk)
            size += len(chunk)
            bar.update(len(chunk))
    return size


def _check(remote: RemoteFile, md5: str, size: int) -> None:
    expected_size = remote.size if remote.size is not None else size
    if md5 != remote.md5 or size != expected_size:
        expected = f"{remote.md5} ({remote.size} bytes)" if remote.size is not None else remote.md5
        raise SourceFailed(
            f"checksum mismatch: md5 {md5} ({size} bytes), expected {expected} "
            f"from {remote.md5_from}"
        )


def _keep_cifar_batches(
    remote: RemoteFile, archive: Path, out_dir: Path, tmp: Path
) -> dict[str, dict]:
    """Verify the archive's md5, extract it safely, keep the six binary batches and the labels."""
    digests = io.file_digests(archive)
    _check(remote, str(digests["md5"]), int(digests["size"]))
    extracted = tmp / "extracted"
    io.safe_extract_tar(archive, extracted)
    kept = {}
    for name in (*CIFAR_TRAIN_BATCHES, CIFAR_TEST_BATCH, "batches.meta.txt"):
        member = extracted / CIFAR_DIR / name
        if not member.is_file():
            raise SourceFailed(f"archive lacks {CIFAR_DIR}/{name}")
        if name.endswith(".bin") and member.stat().st_size % CIFAR_RECORD_BYTES:
            raise SourceFailed(f"{name} is not a whole number of {CIFAR_RECORD_BYTES}-byte records")
        with io.atomic_write(out_dir / name) as out, open(member, "rb") as src:
            shutil.copyfileobj(src, out, _CHUNK)
        kept[name] = io.file_digests(out_dir / name)
    return kept
