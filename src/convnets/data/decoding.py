"""Decode a folder of the user's pictures into one uint8 array, on every core, deterministically.

Two passes over the files, each in a process pool: the headers first (cheap), which fixes how
many pictures there are and, for `channels: auto`, whether any is in colour; then the pixels,
chunk by chunk, each chunk written in file order into an array allocated once. Memory is the
output plus a few chunks in flight, never a list of Python images, and the result is the same
bytes whatever the number of processes, since position depends on file order alone.

A file that cannot be read (empty, truncated, not an image) is listed with its fix and skipped,
or stops the stage when the folder's `bad_files` says `fail`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image
from tqdm import tqdm

from convnets.data.folder import FolderListing
from convnets.errors import ConvnetsError
from convnets.photos import PictureError, fit, open_picture

log = logging.getLogger(__name__)

CHUNK = 256  # pictures per task: large enough to amortise the pickling, small enough to stream
_GREY_MODES = frozenset({"1", "L", "LA", "I", "F", "I;16", "I;16B", "I;16L", "I;16N"})


@dataclass(frozen=True)
class Decoding:
    """How every picture becomes the array: the size, channels and framing all share."""

    height: int
    width: int
    channels: int | Literal["auto"]  # auto: 3 if any picture has colour (not R = G = B), else 1
    framing: Literal["pad", "crop", "stretch"]
    bad_files: Literal["skip", "fail"]


@dataclass(frozen=True)
class Decoded:
    images: np.ndarray  # uint8 (N, H, W, C), the readable pictures in listing order
    kept: np.ndarray  # int64 (N,): each image's index in the listing
    bad: tuple[str, ...]  # one line per skipped file: what is wrong and the fix


def decode_folder(listing: FolderListing, decoding: Decoding, workers: int) -> Decoded:
    """Every readable picture of `listing` at the decoding's size, in listing order."""
    files = [str(path) for path in listing.files]
    headers = [
        kind for chunk in _map(_header, _chunks(files), workers, "headers") for kind in chunk
    ]
    readable = [i for i, kind in enumerate(headers) if not kind.startswith("bad:")]
    bad = [kind.removeprefix("bad:") for kind in headers if kind.startswith("bad:")]
    channels = decoding.channels
    if channels == "auto":
        channels = 3 if any(headers[i] == "colour" for i in readable) else 1
    shape = (decoding.height, decoding.width, channels)
    images = np.empty((len(readable), *shape), dtype=np.uint8)
    kept, cursor = [], 0
    task = (decoding.height, decoding.width, channels == 1, decoding.framing)
    jobs = [(task, [files[i] for i in chunk]) for chunk in _chunks(readable)]
    results = _map(_pixels, jobs, workers, "decoding")  # streamed: copied in as each arrives
    for chunk, (pixels, problems) in zip(_chunks(readable), results, strict=True):
        good = [index for index, problem in zip(chunk, problems, strict=True) if not problem]
        images[cursor : cursor + len(good)] = pixels
        kept += good
        cursor += len(good)
        bad += [problem for problem in problems if problem]
    bad = [f"{line}. Fix: replace or delete the file." for line in bad]
    if bad and decoding.bad_files == "fail":
        raise ConvnetsError(
            f"{len(bad)} unreadable picture(s), and bad_files is fail; the first: {bad[0]} "
            "(or set bad_files: skip to list and skip them)"
        )
    images = images[:cursor]
    if decoding.channels == "auto" and channels == 3 and _grey_content(images):
        images = np.ascontiguousarray(images[..., :1])  # R = G = B: exactly what "L" gives
    return Decoded(images, np.asarray(kept, dtype=np.int64), tuple(bad))


def _grey_content(images: np.ndarray) -> bool:
    """Every picture has R = G = B: grey pictures saved as colour (a common export).

    Kept as 3 identical channels they would hand the model two channels that are exactly
    zero in every direction but one, which a whitening stem and BatchNorm turn into noise
    amplifiers (a model trained in bf16 then fails in fp32: 88% against 33% on Fashion-MNIST
    saved as RGB JPEGs). One channel is the same information. Checked in chunks: no copy.
    """
    for start in range(0, len(images), CHUNK * 16):
        chunk = images[start : start + CHUNK * 16]
        if not (
            np.array_equal(chunk[..., 0], chunk[..., 1])
            and np.array_equal(chunk[..., 1], chunk[..., 2])
        ):
            return False
    return True


def _chunks(items: Sequence) -> list[Sequence]:
    return [items[start : start + CHUNK] for start in range(0, len(items), CHUNK)]


def _map(work: Callable, jobs: list, workers: int, desc: str) -> Iterator:
    """`work` over `jobs`, yielding results in job order, in `workers` processes (1: this one)."""
    bar = tqdm(total=len(jobs), desc=desc, unit="chunk", disable=None)
    with bar, _mapper(workers) as run:
        for result in run(work, jobs):
            bar.update()
            yield result


@contextlib.contextmanager
def _mapper(workers: int) -> Iterator[Callable]:
    """`map` over a process pool; one worker maps in this process (no pickling, easy to debug)."""
    if workers <= 1:
        yield map
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield pool.map  # results in submission order, whatever finishes first


def _header(files: Sequence[str]) -> list[str]:
    """Per file: "grey", "colour", or "bad:<why>" from its header alone."""
    return [_kind(Path(name)) for name in files]


def _kind(path: Path) -> str:
    if path.stat().st_size == 0:
        return f"bad:{path}: an empty file (0 bytes)"
    try:
        with Image.open(path) as image:
            mode, palette = image.mode, image.getpalette() if image.mode == "P" else None
    except Exception as exc:  # Pillow raises many kinds for a file that is not an image
        return f"bad:{path}: not an image Pillow can read ({type(exc).__name__})"
    if mode in _GREY_MODES or (palette is not None and _grey_palette(palette)):
        return "grey"
    return "colour"


def _grey_palette(palette: list[int]) -> bool:
    rgb = np.asarray(palette, dtype=np.int64).reshape(-1, 3)
    return bool(np.all(rgb == rgb[:, :1]))


def _pixels(job: tuple) -> tuple[np.ndarray, list[str]]:
    """Decode one chunk: the good pictures stacked (one array to send back, not one per file)
    and a problem per file ("" when it decoded)."""
    (height, width, grey, framing), files = job
    arrays, problems = [], []
    for name in files:
        try:
            arrays.append(fit(open_picture(Path(name)), height, width, grey, framing))
            problems.append("")
        except PictureError as exc:
            problems.append(str(exc))
    shape = (0, height, width, 1 if grey else 3)
    return (np.stack(arrays) if arrays else np.empty(shape, dtype=np.uint8)), problems
