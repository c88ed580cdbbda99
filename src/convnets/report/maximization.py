"""Activation maximization ("how CNNs see the world"): start from noise and climb the gradient
of one class score or one channel's mean activation with respect to the image.

Unregularized ascent gives high-frequency noise that the network loves and people cannot read,
so each step jitters the image by a few pixels and every few steps blurs it a little (after
Yosinski et al. 2015, "Understanding neural networks through deep visualization").

That pixel-space ascent still draws textures on these images. `fourier_ascend` follows Olah et
al. 2017 ("Feature Visualization", Distill): the image is parameterized by its Fourier
spectrum, scaled by 1/frequency so that every frequency starts out with equal energy (plain
gradient steps otherwise favour the high frequencies), squashed into [0, 1] by a sigmoid, and
each step sees a randomly shifted, scaled and rotated copy (transformation robustness), so only
patterns that survive small moves are reinforced.
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


@dataclass(frozen=True)
class FourierSettings:
    steps: int = 96
    lr: float = 0.05  # Adam, on the spectrum (Olah et al.'s value)
    jitter: int = 2  # pixels of random shift per step
    scale: float = 0.1  # random zoom in [1 - scale, 1 + scale]
    degrees: float = 5.0  # random rotation in [-degrees, degrees]
    decay: float = 1.0  # spectrum scaled by 1 / frequency**decay


def fourier_ascend(
    objective: Callable[[torch.Tensor], torch.Tensor],
    shape: tuple[int, int, int, int],
    settings: FourierSettings,
    seed: int,
) -> torch.Tensor:
    """Images (N, C, H, W) in [0, 1] that maximize `objective` of randomly transformed copies."""
    generator = torch.Generator().manual_seed(seed)
    n, c, h, w = shape
    freqs = torch.sqrt(torch.fft.fftfreq(h)[:, None] ** 2 + torch.fft.rfftfreq(w)[None, :] ** 2)
    weight = 1.0 / freqs.clamp_min(1.0 / max(h, w)) ** settings.decay  # (H, W // 2 + 1)
    spectrum = (0.01 * torch.randn((n, c, h, w // 2 + 1, 2), generator=generator)).requires_grad_()
    optimizer = torch.optim.Adam([spectrum], lr=settings.lr)

    def image() -> torch.Tensor:
        pixels = torch.fft.irfft2(torch.view_as_complex(spectrum) * weight, s=(h, w), norm="ortho")
        return torch.sigmoid(pixels / 4)  # /4: Olah et al.'s (lucid's) range before the sigmoid

    for _ in range(settings.steps):
        loss = -objective(_random_transform(image(), settings, generator)).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return image().detach()


def _random_transform(x: torch.Tensor, s: FourierSettings, generator: torch.Generator):
    """Each image shifted by up to `jitter` pixels, zoomed and rotated a little (one affine map,
    bilinear, borders repeated)."""
    n, _, h, w = x.shape
    uniform = torch.rand((n, 4), generator=generator) * 2 - 1  # (N, 4) in [-1, 1]
    angle = torch.deg2rad(uniform[:, 0] * s.degrees)
    zoom = 1 + uniform[:, 1] * s.scale
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    shift_x, shift_y = uniform[:, 2] * 2 * s.jitter / w, uniform[:, 3] * 2 * s.jitter / h
    theta = torch.stack(
        [torch.stack([cos, -sin, shift_x], 1), torch.stack([sin, cos, shift_y], 1)], 1
    )  # (N, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="border", align_corners=False)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """A separable 3x3 Gaussian blur of each channel, borders replicated."""
    taps = torch.exp(-torch.tensor([1.0, 0.0, 1.0]) / (2 * sigma**2))
    taps = taps / taps.sum()
    kernel = (taps[:, None] * taps[None, :]).expand(x.shape[1], 1, 3, 3).contiguous()
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, groups=x.shape[1])


Settings = AscentSettings | FourierSettings


def _climb(settings: Settings) -> Callable:
    """Pixel-space ascent or the Fourier parameterization, as the settings say."""
    return fourier_ascend if isinstance(settings, FourierSettings) else ascend


def class_images(
    model: nn.Module, shape: tuple[int, int, int], classes: int, settings: Settings, seed: int
) -> torch.Tensor:
    """One image per class (classes, C, H, W) that maximizes that class's score."""
    model.eval()
    targets = torch.arange(classes)
    return _climb(settings)(
        lambda x: model(x).gather(1, targets[:, None])[:, 0], (classes, *shape), settings, seed
    )


def channel_images(
    model: nn.Module,
    layer: nn.Module,
    channels: list[int],
    shape: tuple[int, int, int],
    settings: Settings,
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

    return _climb(settings)(objective, (len(channels), *shape), settings, seed)
