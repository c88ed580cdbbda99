"""Atomic writes and safe loading: a failed write keeps the old file, nothing pickled loads."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import numpy as np
import pytest

from convnets import io
from convnets.errors import ConvnetsError


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "sub" / "out.json"
    io.write_json(target, {"b": 1, "a": [1, 2]})
    first = target.read_bytes()
    io.write_json(target, {"a": [1, 2], "b": 1})
    assert target.read_bytes() == first  # sorted keys: equal content, equal bytes
    assert oct(target.stat().st_mode & 0o777) != oct(0o600)


def test_copy_file_is_byte_for_byte_and_a_missing_source_names_its_stage(tmp_path):
    source, copy = tmp_path / "a.pt", tmp_path / "sub" / "best.pt"
    source.write_bytes(bytes(range(256)) * 5000)  # more than one 1 MiB chunk
    io.copy_file(source, copy, "train@cnn")
    assert copy.read_bytes() == source.read_bytes()
    with pytest.raises(ConvnetsError, match=r"Fix: run `dvc repro train@vgg`"):
        io.copy_file(tmp_path / "vgg.pt", copy, "train@vgg")
    assert copy.read_bytes() == source.read_bytes()  # the previous copy is untouched
    assert sorted(p.name for p in copy.parent.iterdir()) == ["best.pt"]  # no temp file left


@pytest.mark.parametrize("where", ["fsync", "replace"])
def test_failed_write_keeps_old_content_and_leaves_no_temp(where, tmp_path, monkeypatch):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def disk_full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, where, disk_full)
    with pytest.raises(ConvnetsError) as error, io.atomic_write(target) as handle:
        handle.write(b"new content")
    message = str(error.value)
    assert f"could not write {target}: No space left on device (ENOSPC)" in message
    assert "Fix: free space" in message
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


FILE_SIZE_LIMITED = """
import resource, signal, sys
import numpy as np
from convnets import io
from convnets.errors import ConvnetsError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the kernel then fails the write with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
try:
    io.save_npz(sys.argv[1], x=np.ones(100_000, dtype=np.uint8))
except ConvnetsError as exc:
    print(exc)
"""


@pytest.mark.slow  # spawns a process
def test_write_failing_in_the_kernel_keeps_old_npz_byte_for_byte(tmp_path):
    """A real failed write(2), not a patched one: the file-size limit makes the kernel refuse."""
    target = tmp_path / "prepared.npz"
    io.save_npz(target, x=np.arange(10, dtype=np.uint8))
    old = target.read_bytes()
    result = subprocess.run(
        [sys.executable, "-c", FILE_SIZE_LIMITED, str(target)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert f"could not write {target}: File too large (EFBIG)" in result.stdout
    assert target.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["prepared.npz"]


def test_errors_of_the_code_pass_through_unchanged(tmp_path):
    with pytest.raises(ValueError, match="bug"), io.atomic_write(tmp_path / "x") as handle:
        handle.write(b"half")
        raise ValueError("bug")
    assert list(tmp_path.iterdir()) == []


def test_remove_stale_temps_only_touches_temp_files(tmp_path):
    (tmp_path / ".data.npz.tmp-abc").write_bytes(b"half")
    (tmp_path / "data.npz").write_bytes(b"whole")
    io.remove_stale_temps(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["data.npz"]


def test_npz_round_trip_and_refusals(tmp_path):
    path = tmp_path / "a.npz"
    io.save_npz(path, x=np.arange(4, dtype=np.uint8))
    assert io.load_npz(path, ("x",), "prepare")["x"].tolist() == [0, 1, 2, 3]
    with pytest.raises(ConvnetsError, match=r"lacks arrays \['y'\].*dvc repro --force prepare"):
        io.load_npz(path, ("x", "y"), "prepare")
    with pytest.raises(TypeError, match="pickle"):
        io.save_npz(tmp_path / "b.npz", x=np.array([{"a": 1}], dtype=object))


def test_pickled_npz_is_refused_not_loaded(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, x=np.array([{"payload": 1}], dtype=object))
    with pytest.raises(ConvnetsError, match="corrupt or unreadable"):
        io.load_npz(path, ("x",), "prepare")


def test_truncated_npz_names_stage_to_rerun(tmp_path):
    path = tmp_path / "cut.npz"
    io.save_npz(path, x=np.zeros(1000, dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ConvnetsError, match="dvc repro --force prepare"):
        io.load_npz(path, ("x",), "prepare")
    with pytest.raises(ConvnetsError, match="dvc repro prepare"):
        io.load_npz(tmp_path / "absent.npz", ("x",), "prepare")
