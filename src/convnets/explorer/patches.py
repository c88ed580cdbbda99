"""Each channel's top-9 test patches (Zeiler & Fergus 2014), found with onnxruntime.

For every tapped layer and channel: the nine test images whose strongest response in that
channel is highest, each cropped to the receptive field of the position that responded
(`figures/top_patches.py`, shared with the report). The site shows them as one PNG sprite per
layer: a row per channel, nine cells per row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from convnets.explorer.graph import Layer
from convnets.figures.top_patches import TOP, Peaks, ReceptiveField, top_patches
from convnets.onnx.metadata import INPUT
from convnets.onnx.sessions import batches


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
    """The sprite of one layer from its maps (N, C, h, w) over `images` (N, H, W, C).

    A field wider than the image is cropped to its middle, so every cell is at most the image.
    """
    field = ReceptiveField(*layer.field)
    cell = min(field.size, max(images.shape[1:3]))
    channels = maps.shape[1]
    sprite = np.zeros((channels * cell, TOP * cell, images.shape[3]), np.uint8)
    for channel, patches in enumerate(top_patches(Peaks.of(maps), images, field, cell)):
        for slot, patch in enumerate(patches):
            sprite[channel * cell : (channel + 1) * cell, slot * cell : (slot + 1) * cell] = patch
    return Sprite(sprite, cell)
