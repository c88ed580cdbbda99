"""Decode verified upstream files into uint8 arrays: images (N, H, W, C) and int64 labels (N,)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from convnets.data.datasets import (
    CIFAR_RECORD_BYTES,
    CIFAR_TEST_BATCH,
    CIFAR_TRAIN_BATCHES,
    DatasetSpec,
    payload_name,
)
from convnets.errors import ConvnetsError

Split = tuple[np.ndarray, np.ndarray]  # (images uint8 (N, H, W, C), labels int64 (N,))

_IDX_UBYTE = 0x08  # the IDX type code for unsigned bytes, the only one these datasets use


def read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file: 2 zero bytes, a type byte, a rank byte, big-endian dims, then data."""
    raw = path.read_bytes()
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != _IDX_UBYTE:
        raise ConvnetsError(f"{path} is not an unsigned-byte IDX file (bad magic number)")
    rank = raw[3]
    header = 4 + 4 * rank
    dims = tuple(int(d) for d in np.frombuffer(raw[4:header], dtype=">u4"))
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        raise ConvnetsError(f"{path} holds {len(raw)} bytes; its header {dims} implies {expected}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def read_idx_split(raw_dir: Path, spec: DatasetSpec, prefix: str) -> Split:
    """Read the images and labels of one upstream split (`train` or `t10k`)."""
    names = [payload_name(f) for f in spec.files if f.name.startswith(f"{prefix}-")]
    images = read_idx(raw_dir / next(n for n in names if "images" in n))
    labels = read_idx(raw_dir / next(n for n in names if "labels" in n))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ConvnetsError(f"{raw_dir}: {prefix} images {images.shape} and labels {labels.shape}")
    return images[..., None].copy(), labels.astype(np.int64)


def read_cifar_batches(paths: list[Path]) -> Split:
    """CIFAR-10 binary records: a label byte, then 1024 red, 1024 green, 1024 blue pixels."""
    records = np.concatenate([_read_records(p) for p in paths])
    labels = records[:, 0].astype(np.int64)
    images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # (N, C, H, W) -> NHWC
    return np.ascontiguousarray(images), labels


def _read_records(path: Path) -> np.ndarray:
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % CIFAR_RECORD_BYTES:
        raise ConvnetsError(f"{path} is not a whole number of {CIFAR_RECORD_BYTES}-byte records")
    return raw.reshape(-1, CIFAR_RECORD_BYTES)


def decode(raw_dir: Path, spec: DatasetSpec) -> tuple[Split, Split]:
    """The upstream (train, test) splits of `spec` from the download stage's folder."""
    try:
        if spec.format == "idx":
            train = read_idx_split(raw_dir, spec, "train")
            test = read_idx_split(raw_dir, spec, "t10k")
        else:
            train = read_cifar_batches([raw_dir / name for name in CIFAR_TRAIN_BATCHES])
            test = read_cifar_batches([raw_dir / CIFAR_TEST_BATCH])
    except FileNotFoundError as exc:
        raise ConvnetsError(
            f"{exc.filename} is missing. Fix: run `dvc repro download` for {spec.name}."
        ) from None
    for split_name, (images, labels) in (("train", train), ("test", test)):
        if images.shape[1:] != spec.image_shape:
            raise ConvnetsError(
                f"{raw_dir}: {split_name} images are {images.shape[1:]}, expected "
                f"{spec.image_shape} for {spec.name}. Fix: run `dvc repro --force download`."
            )
        if labels.size and (labels.min() < 0 or labels.max() >= len(spec.classes)):
            raise ConvnetsError(
                f"{raw_dir}: {split_name} labels outside 0..{len(spec.classes) - 1}; "
                f"Fix: run `dvc repro --force download`."
            )
    return train, test
