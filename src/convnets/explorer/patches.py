"""Each channel's top-9 test patches (Zeiler & Fergus 2014), found with onnxruntime.

For every tapped layer and channel: the nine test images whose strongest response in that
channel is highest, each cropped to the receptive field of the position that responded. The
site shows them as one PNG sprite per layer: a row per channel, nine cells per row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from convnets.explorer.graph import Layer
from convnets.onnx.metadata import INPUT
from convnets.onnx.sessions import batches

TOP = 9


@dataclass(frozen=True)
class Sprite:
    pixels: np.ndarray  # uint8 (channels * cell, TOP * cell, C): one row of patches per channel
    cell: int  # side of one patch in pixels (the receptive field, at most the image)


def feature_maps(session, images: np.ndarray, layers: list[Layer]) -> list[np.ndarray]:
    """Each layer's maps for uint8 NHWC `images`: a list of (N, C, h, w) float32."""
    names = [layer.output for layer in layers]
    runs = [session.run(names, {INPUT: chunk}) for chunk in batches(images, 128)]
    return [np.concatenate([run[i] for run in runs]) for i in range(len(layers))]


def top_patch_sprite(maps: np.ndarray, images: np.ndarray, layer: Layer) -> Sprite:
    """The sprite of one layer from its maps (N, C, h, w) over `images` (N, H, W, C)."""
    size, jump, start = layer.field
    height, width = images.shape[1:3]
    cell = min(size, max(height, width))
    n, channels, h, w = maps.shape
    flat = maps.reshape(n, channels, h * w)
    sprite = np.zeros((channels * cell, TOP * cell, images.shape[3]), np.uint8)
    for channel in range(channels):
        peaks = flat[:, channel].max(axis=1)  # (N,) each image's strongest response
        for slot, image in enumerate(np.argsort(-peaks, kind="stable")[:TOP]):
            row, col = divmod(int(flat[image, channel].argmax()), w)
            centre = (size - cell) // 2  # a field wider than the image: its middle
            top, left = start + row * jump + centre, start + col * jump + centre
            patch = _crop(images[image], top, left, cell)
            sprite[channel * cell : (channel + 1) * cell, slot * cell : (slot + 1) * cell] = patch
    return Sprite(sprite, cell)


def _crop(image: np.ndarray, top: int, left: int, cell: int) -> np.ndarray:
    """A cell x cell window at (top, left); what falls outside the image stays black."""
    out = np.zeros((cell, cell, image.shape[2]), np.uint8)
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + cell, image.shape[0]), min(left + cell, image.shape[1])
    if y1 > y0 and x1 > x0:
        out[y0 - top : y1 - top, x0 - left : x1 - left] = image[y0:y1, x0:x1]
    return out
