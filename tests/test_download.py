"""The download stage against archives in the upstream formats, served from 127.0.0.1."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
import tarfile
import textwrap
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from convnets.data.datasets import (
    CIFAR10,
    CIFAR_DIR,
    FASHION_MNIST,
    MNIST,
    RemoteFile,
    with_checksums,
)
from convnets.data.decode import decode
from convnets.data.fetch import (
    MANIFEST,
    Source,
    SourceFailed,
    _NoDowngradeRedirects,
    default_sources,
    download_dataset,
)
from convnets.errors import ConvnetsError
from tests.fakes import cifar_tar, make_tiny_cifar
from tests.require import require_fashion_mnist

PAYLOADS = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"]


def assert_payloads_match(out: Path, tiny) -> None:
    for name, array in tiny.arrays.items():
        assert (out / name).read_bytes()[-array.size :] == array.tobytes()


def test_good_download_keeps_verified_payloads(tiny_idx, mirror, tmp_path):
    base = mirror.serve_folder("mnist", tiny_idx.folder)
    out = tmp_path / "raw"
    manifest = download_dataset(tiny_idx.spec, out, [Source(base)], timeout_s=5)
    assert_payloads_match(out, tiny_idx)
    recorded = json.loads((out / MANIFEST).read_text())
    assert recorded == manifest
    for remote in tiny_idx.spec.files:
        entry = manifest["files"][remote.name.removesuffix(".gz")]
        assert entry["md5"] == remote.md5 and len(entry["sha256"]) == 64
        assert entry["source"] == base + remote.name


def test_regzipped_payload_passes_and_tampered_payload_fails(tiny_idx, mirror, tmp_path):
    """Debian's case: different .gz bytes, same payload, must pass; a changed payload must not."""
    name = "train-images-idx3-ubyte.gz"
    payload = gzip.decompress((tiny_idx.folder / name).read_bytes())
    regzipped = gzip.compress(payload, compresslevel=1, mtime=12345)
    assert regzipped != (tiny_idx.folder / name).read_bytes()
    tampered = bytearray(payload)
    tampered[-1] ^= 0xFF
    base = mirror.serve_folder("good", tiny_idx.folder)
    mirror.routes[f"/good/{name}"] = regzipped
    bad_base = mirror.serve_folder("bad", tiny_idx.folder)
    mirror.routes[f"/bad/{name}"] = gzip.compress(bytes(tampered))

    download_dataset(tiny_idx.spec, tmp_path / "ok", [Source(base)], timeout_s=5)
    assert_payloads_match(tmp_path / "ok", tiny_idx)
    with pytest.raises(ConvnetsError, match="checksum mismatch"):
        download_dataset(tiny_idx.spec, tmp_path / "bad", [Source(bad_base)], timeout_s=5)
    assert not (tmp_path / "bad" / "train-images-idx3-ubyte").exists()


def test_private_mirror_checksums_replace_upstream_for_named_files_only(tiny_idx, mirror, tmp_path):
    """The tiny files are not upstream's: only download.checksums can vouch for them."""
    base = mirror.serve_folder("private", tiny_idx.folder)
    ours = {remote.name: remote.md5 for remote in tiny_idx.spec.files}
    upstream_mnist = replace(MNIST, mirrors=())
    with pytest.raises(ConvnetsError, match=r"expected 6bbc9ace\S* \(47040016 bytes\) from up"):
        download_dataset(upstream_mnist, tmp_path / "a", [Source(base)], timeout_s=5)

    spec = with_checksums(upstream_mnist, ours)
    download_dataset(spec, tmp_path / "ok", [Source(base)], timeout_s=5)
    assert_payloads_match(tmp_path / "ok", tiny_idx)

    one_only = with_checksums(
        upstream_mnist, {"t10k-labels-idx1-ubyte.gz": ours["t10k-labels-idx1-ubyte.gz"]}
    )
    with pytest.raises(ConvnetsError, match=r"(?s)file train-images-idx3-ubyte.gz.* from upstream"):
        download_dataset(one_only, tmp_path / "b", [Source(base)], timeout_s=5)


def test_wrong_private_checksum_fails_as_before(tiny_idx, mirror, tmp_path):
    base = mirror.serve_folder("private", tiny_idx.folder)
    ours = {remote.name: remote.md5 for remote in tiny_idx.spec.files}
    ours["train-labels-idx1-ubyte.gz"] = "0" * 32
    spec = with_checksums(replace(MNIST, mirrors=()), ours)
    with pytest.raises(ConvnetsError) as error:
        download_dataset(spec, tmp_path / "raw", [Source(base)], timeout_s=5)
    message = str(error.value)
    assert "train-labels-idx1-ubyte.gz" in message and "checksum mismatch" in message
    assert f"expected {'0' * 32} from download.checksums in params.yaml" in message
    assert not (tmp_path / "raw" / "train-labels-idx1-ubyte").exists()
    assert not (tmp_path / "raw" / MANIFEST).exists()
    with pytest.raises(ConvnetsError, match=r"does not have.*Fix"):
        with_checksums(MNIST, {"cifar-10-binary.tar.gz": "0" * 32})


def test_first_mirror_down_second_used(tiny_idx, mirror, closed_port_url, tmp_path):
    base = mirror.serve_folder("second", tiny_idx.folder)
    out = tmp_path / "raw"
    manifest = download_dataset(tiny_idx.spec, out, [Source(closed_port_url), Source(base)], 5)
    assert_payloads_match(out, tiny_idx)
    assert all(entry["source"].startswith(base) for entry in manifest["files"].values())


def test_checksum_mismatch_on_one_mirror_moves_to_next(tiny_idx, mirror, tmp_path):
    evil = mirror.serve_folder("evil", tiny_idx.folder)
    name = "train-labels-idx1-ubyte.gz"
    mirror.routes[f"/evil/{name}"] = gzip.compress(b"\0\0\x08\x01" + b"\0" * 8)
    good = mirror.serve_folder("good", tiny_idx.folder)
    out = tmp_path / "raw"
    manifest = download_dataset(tiny_idx.spec, out, [Source(evil), Source(good)], 5)
    assert manifest["files"]["train-labels-idx1-ubyte"]["source"] == good + name
    assert manifest["files"]["train-images-idx3-ubyte"]["source"].startswith(evil)
    assert_payloads_match(out, tiny_idx)


def test_truncated_gz_is_a_failed_source(tiny_idx, mirror, tmp_path):
    name = "train-images-idx3-ubyte.gz"
    whole = (tiny_idx.folder / name).read_bytes()
    cut = mirror.serve_folder("cut", tiny_idx.folder)
    mirror.routes[f"/cut/{name}"] = whole[: len(whole) // 2]
    with pytest.raises(ConvnetsError) as error:
        download_dataset(tiny_idx.spec, tmp_path / "raw", [Source(cut)], 5)
    assert f"{cut}{name}" in str(error.value)
    assert not (tmp_path / "raw" / "train-images-idx3-ubyte").exists()
    assert not list((tmp_path / "raw").glob(".*tmp*"))


def test_all_sources_fail_with_one_error_naming_each(tiny_idx, mirror, closed_port_url, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = f"{mirror.url}/nothing/"
    sources = [Source(str(empty)), Source(closed_port_url), Source(missing)]
    with pytest.raises(ConvnetsError) as error:
        download_dataset(tiny_idx.spec, tmp_path / "raw", sources, timeout_s=5)
    message = str(error.value)
    first = tiny_idx.spec.files[0].name
    for source in sources:
        assert source.where(tiny_idx.spec.files[0]) in message
    assert "not found" in message and "HTTP 404" in message and "unreachable" in message
    assert "download.mirrors" in message and "download.local_dirs" in message
    assert first in message


def test_local_folder_is_tried_before_mirrors(tiny_idx, mirror, tmp_path):
    base = mirror.serve_folder("m", tiny_idx.folder)
    sources = default_sources(tiny_idx.spec, [str(tiny_idx.folder)], [base])
    assert [s.location for s in sources] == [str(tiny_idx.folder), base]
    download_dataset(tiny_idx.spec, tmp_path / "raw", sources, timeout_s=5)
    assert mirror.hits == []


def test_https_to_http_redirect_is_refused():
    handler = _NoDowngradeRedirects()
    request = urllib.request.Request("https://example.org/data.gz")
    with pytest.raises(SourceFailed, match="refused redirect"):
        handler.redirect_request(request, None, 302, "Found", {}, "http://example.org/data.gz")
    kept = handler.redirect_request(request, None, 302, "Found", {}, "https://example.net/d.gz")
    assert kept.full_url == "https://example.net/d.gz"


def test_cifar_binary_archive_downloads_and_decodes(mirror, tmp_path):
    tiny = make_tiny_cifar(tmp_path / "upstream")
    base = mirror.serve_folder("cifar", tiny.folder)
    out = tmp_path / "raw"
    download_dataset(tiny.spec, out, [Source(base)], timeout_s=5)
    (x_train, y_train), (x_test, y_test) = decode(out, tiny.spec)
    np.testing.assert_array_equal(x_train, tiny.train[0])
    np.testing.assert_array_equal(y_train, tiny.train[1])
    np.testing.assert_array_equal(x_test, tiny.test[0])
    assert x_train.shape == (20, 32, 32, 3) and y_test.dtype == np.int64


def _hostile_members(outside: Path) -> list[tarfile.TarInfo]:
    dotdot = tarfile.TarInfo("../evil")
    dotdot.size = 4
    absolute = tarfile.TarInfo(str(outside / "absolute-evil"))
    absolute.size = 4
    link = tarfile.TarInfo(f"{CIFAR_DIR}/escape")
    link.type, link.linkname = tarfile.SYMTYPE, str(outside)
    return [dotdot, absolute, link]


@pytest.mark.parametrize("which", [0, 1, 2], ids=["dotdot", "absolute", "symlink-out"])
def test_hostile_tar_members_are_refused(which, mirror, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    archive = cifar_tar(
        {f"{CIFAR_DIR}/data_batch_1.bin": b"\0" * 3073}, [_hostile_members(outside)[which]]
    )
    (tmp_path / "up").mkdir()
    (tmp_path / "up" / "cifar-10-binary.tar.gz").write_bytes(archive)
    remote = RemoteFile("cifar-10-binary.tar.gz", hashlib.md5(archive).hexdigest(), len(archive))
    spec = replace(CIFAR10, files=(remote,), mirrors=())
    out = tmp_path / "deep" / "raw"
    with pytest.raises(ConvnetsError, match="refusing archive"):
        download_dataset(spec, out, [Source(str(tmp_path / "up"))], timeout_s=5)
    assert list(outside.iterdir()) == []
    assert not (tmp_path / "evil").exists() and not (tmp_path / "deep" / "evil").exists()
    assert list(out.iterdir()) == []


@pytest.mark.slow  # spawns a process
def test_killed_download_leaves_nothing_trusted_and_rerun_succeeds(tiny_idx, mirror, tmp_path):
    base = mirror.serve_folder("m", tiny_idx.folder)
    name = "train-images-idx3-ubyte.gz"
    slow = f"{mirror.url}/slow/"
    mirror.serve_folder("slow", tiny_idx.folder)
    mirror.routes[f"/slow/{name}"] = ("slow", (tiny_idx.folder / name).read_bytes())
    out = tmp_path / "raw"
    script = tmp_path / "run.py"
    specs = [tuple(vars(f).values()) for f in tiny_idx.spec.files]
    script.write_text(
        textwrap.dedent(f"""
        import sys
        from dataclasses import replace
        from pathlib import Path
        from convnets.data.fetch import Source, download_dataset
        from convnets.data.datasets import MNIST, RemoteFile
        files = tuple(RemoteFile(*f) for f in {specs!r})
        spec = replace(MNIST, files=files, mirrors=())
        download_dataset(spec, Path(sys.argv[1]), [Source(sys.argv[2])], timeout_s=10)
    """)
    )
    proc = subprocess.Popen([sys.executable, str(script), str(out), slow])
    deadline = time.monotonic() + 20
    while f"/slow/{name}" not in mirror.hits and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # mid-transfer: the slow route takes seconds
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "train-images-idx3-ubyte").exists()
    assert not (out / MANIFEST).exists()
    (out / ".train-images-idx3-ubyte.tmp-stale").write_bytes(b"half")  # as if killed mid-write

    subprocess.run([sys.executable, str(script), str(out), base], check=True)
    assert_payloads_match(out, tiny_idx)
    assert sorted(p.name for p in out.iterdir()) == sorted([*tiny_idx.arrays, MANIFEST])


def test_real_fashion_mnist_from_debian_verifies(tmp_path):
    fashion = str(require_fashion_mnist())
    sources = default_sources(FASHION_MNIST, [fashion], [])
    download_dataset(FASHION_MNIST, tmp_path, sources[:1], timeout_s=5)
    (x_train, y_train), (x_test, y_test) = decode(tmp_path, FASHION_MNIST)
    assert x_train.shape == (60000, 28, 28, 1) and x_test.shape == (10000, 28, 28, 1)
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
