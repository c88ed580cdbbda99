"""Looking inside a trained network: its layers, their activations, where in the input each
activation looks (its receptive field), and which image patches excite a channel most.

"What each layer sees" follows Zeiler & Fergus (2014): for a channel, find the positions in the
test images where it fires hardest and crop the input region those positions see.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

POOLS = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)


def conv_layers(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    """Spatial convolutions (kernel > 1) in the order they were registered; 1x1 shortcuts of a
    ResNet only mix channels, so they are left out."""
    return [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, nn.Conv2d) and max(module.kernel_size) > 1
    ]


def map_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Every conv and pooling layer: the layers whose outputs are feature maps worth drawing."""
    return [
        (name, module)
        for name, module in model.named_modules()
        if (isinstance(module, nn.Conv2d) and max(module.kernel_size) > 1)
        or isinstance(module, POOLS)
    ]


@contextmanager
def recording(layers: list[tuple[str, nn.Module]]) -> Iterator[dict[str, torch.Tensor]]:
    """Inside the block, every forward pass stores each layer's output (detached) by name."""
    outputs: dict[str, torch.Tensor] = {}
    handles = [
        module.register_forward_hook(
            lambda _m, _i, out, name=name: outputs.__setitem__(name, out.detach())
        )
        for name, module in layers
    ]
    try:
        yield outputs
    finally:
        for handle in handles:
            handle.remove()


def activations(model: nn.Module, x: torch.Tensor, layers) -> dict[str, torch.Tensor]:
    """Each layer's output (N, C, H', W') for float images x (N, C, H, W) in [0, 1]."""
    with torch.no_grad(), recording(layers) as outputs:
        model.eval()(x)
    return dict(outputs)


@dataclass(frozen=True)
class ReceptiveField:
    """Where output position (row, col) of a layer looks in the input: a `size`-pixel square
    whose top-left corner is `start + jump * (row, col)` (it may hang over the border)."""

    size: int
    jump: int
    start: int

    def box(self, row: int, col: int) -> tuple[int, int, int, int]:
        """(top, left, bottom, right), bottom and right exclusive, in input pixels."""
        top, left = self.start + self.jump * row, self.start + self.jump * col
        return top, left, top + self.size, left + self.size


def measure_receptive_field(model: nn.Module, layer: nn.Module, input_shape) -> ReceptiveField:
    """Measure a layer's receptive field by backpropagation, so it is right for any topology
    (residual shortcuts included): the input pixels that get gradient from one output position
    are the pixels it sees. Random input keeps nearly every ReLU alive; a dead one could only
    shrink the box. Measured at two neighbouring positions to get the jump (total stride)."""
    channels, size, _ = input_shape
    x = torch.rand(1, channels, size, size, generator=torch.Generator().manual_seed(0))
    x.requires_grad_(True)
    captured: dict[str, torch.Tensor] = {}
    handle = layer.register_forward_hook(lambda _m, _i, out: captured.__setitem__("out", out))
    try:
        with torch.enable_grad():
            model.eval()(x)
    finally:
        handle.remove()
    out = captured["out"]  # (1, C, H', W')
    centre = out.shape[-1] // 2
    tops = []
    for position in (centre, centre - 1) if centre > 0 else (centre,):
        (grad,) = torch.autograd.grad(out[0, :, position, position].sum(), x, retain_graph=True)
        rows = torch.nonzero(grad.abs().sum(dim=(0, 1, 3)) > 0).flatten()
        tops.append((int(rows.min()), int(rows.max()) + 1))
    top, bottom = tops[0]
    jump = max(1, top - tops[1][0]) if len(tops) == 2 else 1
    return ReceptiveField(size=bottom - top, jump=jump, start=top - jump * centre)


@dataclass(frozen=True)
class Peaks:
    """Each image's strongest response per channel: values (N, C) and flat positions (N, C)."""

    values: torch.Tensor
    positions: torch.Tensor
    width: int

    @classmethod
    def of(cls, maps: torch.Tensor) -> Peaks:
        n, c, _, w = maps.shape
        best = maps.reshape(n, c, -1).max(dim=2)
        return cls(best.values, best.indices, w)

    @classmethod
    def concat(cls, parts: list[Peaks]) -> Peaks:
        """Peaks of consecutive batches, as if computed on all images at once."""
        return cls(
            torch.cat([p.values for p in parts]),
            torch.cat([p.positions for p in parts]),
            parts[0].width,
        )


def top_activations(peaks: Peaks, k: int) -> list[list[tuple[float, int, int, int]]]:
    """For each channel: its k strongest responses as (value, image, row, col), largest first,
    one per image at most, so a single image cannot fill a channel's grid. Ties keep image order."""
    result = []
    for channel in range(peaks.values.shape[1]):
        values = peaks.values[:, channel]
        order = torch.argsort(values, descending=True, stable=True)[:k]
        picks = []
        for image in order.tolist():
            row, col = divmod(int(peaks.positions[image, channel]), peaks.width)
            picks.append((float(values[image]), image, row, col))
        result.append(picks)
    return result


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
