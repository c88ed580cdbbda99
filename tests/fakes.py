"""Tiny datasets in the upstream formats (IDX gz, CIFAR-10 binary tar.gz) and a local mirror."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.server
import io as stdio
import socket
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from convnets.data.datasets import (
    CIFAR10,
    CIFAR_DIR,
    CIFAR_TEST_BATCH,
    CIFAR_TRAIN_BATCHES,
    MNIST,
    DatasetSpec,
    RemoteFile,
)


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array in the IDX format: magic (0, 0, 0x08, rank), big-endian dims, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


def cifar_bytes(images: np.ndarray, labels: np.ndarray) -> bytes:
    """CIFAR-10 binary records: label byte, then the image as planes (C, H, W)."""
    planes = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    return np.concatenate([labels.astype(np.uint8)[:, None], planes], axis=1).tobytes()


@dataclass
class TinyIdx:
    """A tiny MNIST-format dataset: .gz files on disk and a spec whose checksums match them."""

    folder: Path
    spec: DatasetSpec
    arrays: dict[str, np.ndarray]


def bar_images(labels: np.ndarray, size: int, channels: int, rng) -> np.ndarray:
    """Noise with one bright bar per image whose place says the class: a learnable toy task.

    Class k draws a 3-pixel-high bar in row band k // 2 (of 5), centred when k is even, at both
    edges when k is odd. Both patterns are mirror-symmetric and band tops lie 5+ pixels apart, so
    the pipeline's default flip and 2-pixel crop augmentation keep every class apart.
    Returns uint8 (N, size, size, channels).
    """
    images = rng.integers(0, 70, (len(labels), size, size, channels)).astype(np.uint8)
    band = (size - 6) / 4  # pixels between the tops of neighbouring bands
    third, quarter = size // 3, size // 4
    for image, label in zip(images, labels, strict=True):
        top = 3 + round((label // 2) * band) - 1
        rows = image[top : top + 3]
        if label % 2 == 0:
            rows[:, third : size - third] = 230
        else:
            rows[:, 1:quarter] = 230
            rows[:, size - quarter : size - 1] = 230
    return images


def balanced_labels(n: int, rng) -> np.ndarray:
    """n labels, each of the 10 classes n // 10 times (or once more), in random order."""
    return rng.permutation(np.arange(n) % 10).astype(np.uint8)


def make_tiny_idx(folder: Path, n_train: int = 60, n_test: int = 20, seed: int = 0) -> TinyIdx:
    rng = np.random.default_rng(seed)
    y_train, y_test = balanced_labels(n_train, rng), balanced_labels(n_test, rng)
    arrays = {
        "train-images-idx3-ubyte": bar_images(y_train, 28, 1, rng)[..., 0],
        "train-labels-idx1-ubyte": y_train,
        "t10k-images-idx3-ubyte": bar_images(y_test, 28, 1, rng)[..., 0],
        "t10k-labels-idx1-ubyte": y_test,
    }
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for name, array in arrays.items():
        payload = idx_bytes(array)
        (folder / f"{name}.gz").write_bytes(gzip.compress(payload, mtime=0))
        files.append(RemoteFile(f"{name}.gz", hashlib.md5(payload).hexdigest(), len(payload)))
    spec = replace(MNIST, files=tuple(files), mirrors=())
    return TinyIdx(folder, spec, arrays)


@dataclass
class TinyCifar:
    folder: Path
    spec: DatasetSpec
    train: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]


def cifar_tar(members: dict[str, bytes], extra: list[tarfile.TarInfo] = ()) -> bytes:
    buffer = stdio.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, stdio.BytesIO(data))
        for info in extra:
            tar.addfile(info, stdio.BytesIO(b"x" * info.size) if info.isfile() else None)
    return buffer.getvalue()


def make_tiny_cifar(folder: Path, per_batch: int = 4, seed: int = 0) -> TinyCifar:
    rng = np.random.default_rng(seed)
    batches = {}
    for name in (*CIFAR_TRAIN_BATCHES, CIFAR_TEST_BATCH):
        labels = balanced_labels(per_batch, rng).astype(np.int64)
        images = bar_images(labels, 32, 3, rng)
        batches[name] = (images, labels)
    members = {f"{CIFAR_DIR}/{n}": cifar_bytes(*arrays) for n, arrays in batches.items()}
    members[f"{CIFAR_DIR}/batches.meta.txt"] = "\n".join(CIFAR10.classes).encode()
    archive = cifar_tar(members)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cifar-10-binary.tar.gz").write_bytes(archive)
    remote = RemoteFile("cifar-10-binary.tar.gz", hashlib.md5(archive).hexdigest(), len(archive))
    train_parts = [batches[n] for n in CIFAR_TRAIN_BATCHES]
    train = tuple(np.concatenate(parts) for parts in zip(*train_parts, strict=True))
    spec = replace(CIFAR10, files=(remote,), mirrors=())
    return TinyCifar(folder, spec, train, batches[CIFAR_TEST_BATCH])


@dataclass
class Mirror:
    """A local HTTP server; `routes` maps a path to bytes, an HTTP status, or ("slow", bytes)."""

    url: str
    routes: dict[str, object] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)

    def serve_folder(self, prefix: str, folder: Path) -> str:
        for path in folder.iterdir():
            self.routes[f"/{prefix}/{path.name}"] = path.read_bytes()
        return f"{self.url}/{prefix}/"


@contextlib.contextmanager
def serving(state: Mirror) -> Iterator[Mirror]:
    """Serve `state.routes` on 127.0.0.1 (a free port) while the block runs; sets `state.url`."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            state.hits.append(self.path)
            route = state.routes.get(self.path, 404)
            if isinstance(route, int):
                self.send_error(route)
                return
            slow = isinstance(route, tuple)
            body = route[1] if slow else route
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            step = 1024 if slow else len(body) or 1
            for start in range(0, len(body), step):
                self.wfile.write(body[start : start + step])
                if slow:
                    time.sleep(0.05)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def quadrant_images(n_per_class: int, size: int = 28, channels: int = 1, seed: int = 0):
    """A learnable toy task: class k (of 4) has a bright square in quadrant k, plus noise.

    Returns uint8 images (N, H, W, C) and int64 labels (N,).
    """
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(4), n_per_class)
    rng.shuffle(labels)
    images = rng.integers(0, 60, (len(labels), size, size, channels)).astype(np.uint8)
    half = size // 2
    for index, label in enumerate(labels):
        top, left = (label // 2) * half, (label % 2) * half
        images[index, top + 2 : top + half - 2, left + 2 : left + half - 2] = 220
    return images, labels.astype(np.int64)


class Hostile:
    """Unpickling this creates `marker` (Path.touch): a safe loader must refuse it unrun, so a
    test asserts the marker is absent afterwards."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def free_port() -> int:
    """A port on 127.0.0.1 where nothing listens (free the moment it is returned)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
