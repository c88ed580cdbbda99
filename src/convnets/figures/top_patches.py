"""Each channel's top-activating patches (Zeiler & Fergus 2014): which images, where, the crops.

For a channel: the test images whose strongest response in it is highest, each cropped to the
receptive field of the position that responded. numpy only, so the report (feature maps from
torch hooks) and the explorer (feature maps from onnxruntime, no torch) pick and crop alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TOP = 9  # patches per channel: a 3x3 grid in the report, a row of nine in the explorer


@dataclass(frozen=True)
class ReceptiveField:
    """Where output position (row, col) of a layer looks in the input: a `size`-pixel square
    whose top-left corner is `start + jump * (row, col)` (it may hang over the border)."""

    size: int
    jump: int
    start: int

    def box(self, row: int, col: int, side: int | None = None) -> tuple[int, int, int, int]:
        """(top, left, bottom, right), bottom and right exclusive, in input pixels: the whole
        field, or the `side`-pixel square at its centre."""
        side = self.size if side is None else side
        inset = (self.size - side) // 2
        top, left = self.start + self.jump * row + inset, self.start + self.jump * col + inset
        return top, left, top + side, left + side


@dataclass(frozen=True)
class Peaks:
    """Each image's strongest response per channel: values (N, C) and flat positions (N, C)
    in maps `width` wide."""

    values: np.ndarray
    positions: np.ndarray
    width: int

    @classmethod
    def of(cls, maps: np.ndarray) -> Peaks:
        """The peaks of feature maps (N, C, h, w); a tie goes to the first position."""
        n, c, _, w = maps.shape
        flat = maps.reshape(n, c, -1)
        return cls(flat.max(axis=2), flat.argmax(axis=2), w)

    @classmethod
    def concat(cls, parts: list[Peaks]) -> Peaks:
        """Peaks of consecutive batches, as if computed on all images at once."""
        return cls(
            np.concatenate([p.values for p in parts]),
            np.concatenate([p.positions for p in parts]),
            parts[0].width,
        )


def top_activations(peaks: Peaks, k: int) -> list[list[tuple[float, int, int, int]]]:
    """For each channel: its k strongest responses as (value, image, row, col), largest first,
    one per image at most, so a single image cannot fill a channel's grid. Ties keep image order."""
    result = []
    for channel in range(peaks.values.shape[1]):
        values = peaks.values[:, channel]
        picks = []
        for image in np.argsort(-values, kind="stable")[:k]:
            row, col = divmod(int(peaks.positions[image, channel]), peaks.width)
            picks.append((float(values[image]), int(image), row, col))
        result.append(picks)
    return result


def top_patches(
    peaks: Peaks, images: np.ndarray, field: ReceptiveField, side: int | None = None
) -> list[list[np.ndarray]]:
    """For each channel, the crops of `images` (N, H, W, C) at its TOP strongest responses,
    largest first: the whole receptive field, or its centre `side` pixels square."""
    return [
        [crop(images[image], field.box(row, col, side)) for _, image, row, col in picks]
        for picks in top_activations(peaks, TOP)
    ]


def crop(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The (H, W, C) region inside `box`, zero-padded where the box hangs over the border."""
    top, left, bottom, right = box
    h, w = image.shape[:2]
    patch = np.zeros((bottom - top, right - left, image.shape[2]), dtype=image.dtype)
    src_top, src_left = max(top, 0), max(left, 0)
    src_bottom, src_right = min(bottom, h), min(right, w)
    if src_bottom > src_top and src_right > src_left:
        patch[src_top - top : src_bottom - top, src_left - left : src_right - left] = image[
            src_top:src_bottom, src_left:src_right
        ]
    return patch
