"""Looking inside a trained network: its layers, their activations, and where in the input each
activation looks (its receptive field, measured by backprop).

Which image patches excite a channel most is picked and cropped in `figures/top_patches.py`,
which the explorer shares.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from convnets.figures.top_patches import ReceptiveField

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
