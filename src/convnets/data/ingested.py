"""The ingested folder: decoded pictures, labels, given splits and the notes a user must read.

The contract between `ingest@<name>` and `prepare`: one `.npz`, loaded without pickle, that
says which file each image came from, so prepare's checks can name the file to fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convnets import io
from convnets.data.decoding import Decoded
from convnets.data.folder import FolderListing
from convnets.errors import ConvnetsError

_KEYS = ("images", "labels", "is_test", "files", "classes", "notes", "framing")


@dataclass(frozen=True)
class Ingested:
    images: np.ndarray  # uint8 (N, H, W, C)
    labels: np.ndarray  # int64 (N,)
    is_test: np.ndarray  # bool (N,): the user's test/ folder, or the seeded held-out share
    files: tuple[str, ...]  # each image's file, relative to the folder
    classes: tuple[str, ...]
    notes: tuple[str, ...]  # bad files, stray files, small classes: one line each, with the fix
    framing: str  # pad, crop or stretch: how `predict` must fit a picture to the model

    def split(self, test: bool) -> tuple[np.ndarray, np.ndarray]:
        keep = self.is_test == test
        return self.images[keep], self.labels[keep]

    def files_by_digest(self, digests: list[bytes]) -> dict[str, dict[bytes, list[str]]]:
        """Per source ("train", which val is drawn from, and "test"), the files of each pixel
        digest (`digests`: one per image), so the data checks can name the file to fix."""
        files: dict[str, dict[bytes, list[str]]] = {"train": {}, "test": {}}
        for digest, name, is_test in zip(digests, self.files, self.is_test, strict=True):
            files["test" if is_test else "train"].setdefault(digest, []).append(name)
        return files


def assemble(
    root: Path,
    listing: FolderListing,
    decoded: Decoded,
    framing: str,
    test_fraction: float,
    min_per_class: int,
    seed: int,
) -> Ingested:
    """The decoded pictures with their labels and splits, refusing a class with no picture."""
    labels = np.asarray(listing.labels, dtype=np.int64)[decoded.kept]
    counts = np.bincount(labels, minlength=len(listing.classes))
    empty = [name for name, n in zip(listing.classes, counts, strict=True) if n == 0]
    if empty:
        raise ConvnetsError(
            f"{root}: class {empty[0]!r} has no readable picture"
            f"{f' ({len(empty)} such classes)' if len(empty) > 1 else ''}. Fix: add pictures to "
            f"its folder, or remove the folder if the class is not wanted."
        )
    notes = [*listing.notes, *decoded.bad]
    notes += [
        f"{root}/{name}: {n} picture(s), fewer than min_per_class ({min_per_class}); its "
        "accuracy will be noisy and its validation share tiny. Fix: add pictures of this class."
        for name, n in zip(listing.classes, counts, strict=True)
        if n < min_per_class
    ]
    given_test = np.array([listing.splits[i] == "test" for i in decoded.kept], dtype=bool)
    is_test = given_test if listing.has_test else hold_out(labels, test_fraction, seed)
    files = tuple(str(listing.files[i].relative_to(root)) for i in decoded.kept)
    return Ingested(decoded.images, labels, is_test, files, listing.classes, tuple(notes), framing)


def hold_out(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A seeded, stratified test mask: `fraction` of each class, at least one where it can."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        take = min(max(1, round(fraction * len(members))), len(members) - 1)
        mask[members[:take]] = True
    return mask


def save_ingested(path: Path, data: Ingested) -> None:
    io.save_npz(
        path,
        images=data.images,
        labels=data.labels,
        is_test=data.is_test,
        files=np.array(data.files, dtype=str),
        classes=np.array(data.classes, dtype=str),
        notes=np.array(data.notes, dtype=str),
        framing=np.array(data.framing, dtype=str),
    )


def load_ingested(path: Path) -> Ingested:
    arrays = io.load_npz(path, _KEYS, producer="ingest")
    return Ingested(
        images=arrays["images"],
        labels=arrays["labels"].astype(np.int64),
        is_test=arrays["is_test"].astype(bool),
        files=tuple(str(f) for f in arrays["files"]),
        classes=tuple(str(c) for c in arrays["classes"]),
        notes=tuple(str(n) for n in arrays["notes"]),
        framing=str(arrays["framing"]),
    )
