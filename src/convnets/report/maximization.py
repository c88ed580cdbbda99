"""Activation maximization ("how CNNs see the world"): start from noise and climb the gradient
of one class score or one channel's mean activation with respect to the image.

Unregularized ascent gives high-frequency noise that the network loves and people cannot read,
so each step jitters the image by a few pixels and every few steps blurs it a little (after
Yosinski et al. 2015, "Understanding neural networks through deep visualization").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class AscentSettings:
    steps: int = 96
    lr: float = 0.05
    jitter: int = 2  # pixels of random shift per step
    blur_every: int = 4  # steps between blurs
    blur_sigma: float = 1.0  # 0.5 leaves checkerboard noise, measured on the VGG
    l2: float = 1e-3  # pulls pixels toward mid-grey


def ascend(
    objective: Callable[[torch.Tensor], torch.Tensor],
    shape: tuple[int, int, int, int],
    settings: AscentSettings,
    seed: int,
) -> torch.Tensor:
    """Images (N, C, H, W) in [0, 1] that maximize `objective(x)`, a (N,) score per image."""
    generator = torch.Generator().manual_seed(seed)
    x = (0.5 + 0.1 * torch.randn(shape, generator=generator)).clamp(0, 1).requires_grad_(True)
    optimizer = torch.optim.Adam([x], lr=settings.lr)
    for step in range(settings.steps):
        dy, dx = torch.randint(-settings.jitter, settings.jitter + 1, (2,), generator=generator)
        shifted = torch.roll(x, shifts=(int(dy), int(dx)), dims=(2, 3))
        loss = -objective(shifted).sum() + settings.l2 * ((x - 0.5) ** 2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            if settings.blur_every and (step + 1) % settings.blur_every == 0:
                x.copy_(gaussian_blur(x, settings.blur_sigma))
            x.clamp_(0, 1)
    return x.detach()


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """A separable 3x3 Gaussian blur of each channel, borders replicated."""
    taps = torch.exp(-torch.tensor([1.0, 0.0, 1.0]) / (2 * sigma**2))
    taps = taps / taps.sum()
    kernel = (taps[:, None] * taps[None, :]).expand(x.shape[1], 1, 3, 3).contiguous()
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, groups=x.shape[1])


def class_images(
    model: nn.Module, shape: tuple[int, int, int], classes: int, settings: AscentSettings, seed: int
) -> torch.Tensor:
    """One image per class (classes, C, H, W) that maximizes that class's score."""
    model.eval()
    targets = torch.arange(classes)
    return ascend(
        lambda x: model(x).gather(1, targets[:, None])[:, 0], (classes, *shape), settings, seed
    )


def channel_images(
    model: nn.Module,
    layer: nn.Module,
    channels: list[int],
    shape: tuple[int, int, int],
    settings: AscentSettings,
    seed: int,
) -> torch.Tensor:
    """One image per listed channel of `layer` that maximizes the channel's mean activation."""
    model.eval()
    index = torch.tensor(channels)

    def objective(x: torch.Tensor) -> torch.Tensor:
        captured = {}
        handle = layer.register_forward_hook(lambda _m, _i, out: captured.__setitem__("o", out))
        try:
            model(x)
        finally:
            handle.remove()
        maps = captured["o"]  # (N, C', H', W'): image i drives channel channels[i]
        return maps[torch.arange(len(index)), index].mean(dim=(1, 2))

    return ascend(objective, (len(channels), *shape), settings, seed)
