"""Atomic writes and safe loading: a failed write keeps the old file, nothing pickled loads."""

from __future__ import annotations

import os

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


def test_failed_write_keeps_old_content_and_leaves_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"), io.atomic_write(target) as handle:
        handle.write(b"new content")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


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
