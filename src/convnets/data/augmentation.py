"""Batched, per-image random augmentation of uint8 image tensors.

torchvision's v2 random transforms draw one set of parameters per call, so a batch tensor gets
the same crop, flip and angle for every image. Here each image draws its own: crop offset, flip
and rotation become one affine matrix per image, applied to the whole batch by one
`affine_grid` + `grid_sample` call; blur, contrast, brightness and noise take one strength per
image (`distortions`, shared with the corruption benchmark); random erasing is a per-image
rectangle mask (as in torchvision's `RandomErasing`, Zhong et al. 2017).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from convnets.config import AugmentConfig
from convnets.data import distortions


@dataclass(frozen=True)
class AugmentSettings:
    crop_padding: int  # pixels: each image shifts by up to this much, as a padded random crop
    flip: bool  # random horizontal flip, p = 0.5
    rotation_deg: float  # each image turns by a uniform angle in [-rotation_deg, rotation_deg]
    erasing_p: float  # probability that an image gets one random rectangle erased
    scale: float = 0.0  # each image is zoomed by a uniform factor in [1 - scale, 1 + scale]
    photometric: Photometric | None = None  # blur, contrast, brightness, noise
    erasing_scale: tuple[float, float] = (0.02, 0.2)  # erased area, as a fraction of the image

    @property
    def moves(self) -> bool:
        return bool(self.crop_padding or self.flip or self.rotation_deg or self.scale)

    @property
    def is_identity(self) -> bool:
        return not (self.moves or self.erasing_p or self.photometric)

    @classmethod
    def from_config(cls, cfg: AugmentConfig) -> AugmentSettings:
        photometric = Photometric(
            cfg.distort_p, cfg.blur_sigma, cfg.contrast, cfg.brightness, cfg.noise_std
        )
        return cls(
            cfg.crop_padding,
            cfg.flip,
            cfg.rotation_deg,
            cfg.erasing_p,
            cfg.scale,
            photometric if photometric.active else None,
        )


@dataclass(frozen=True)
class Photometric:
    """An image is changed with probability `p`, by one of the changes whose limit is above 0,
    at a uniform strength up to that limit: a batch keeps 1 - p of its pictures clean (the
    model's clean accuracy depends on it) and the rest each blurred, faded, lit or noisy."""

    p: float
    blur_sigma: float  # pixels
    contrast: float  # the factor about the image's mean falls to as low as 1 - contrast
    brightness: float  # grey levels added or taken away
    noise_std: float  # grey levels of white noise

    @property
    def limits(self) -> tuple[float, float, float, float]:
        return (self.blur_sigma, self.contrast, self.brightness, self.noise_std)

    @property
    def active(self) -> bool:
        return self.p > 0 and any(self.limits)


def augment_batch(
    images: torch.Tensor, settings: AugmentSettings, generator: torch.Generator
) -> torch.Tensor:
    """Return augmented copies of `images`, uint8 (N, C, H, W), each with its own random draw."""
    if settings.is_identity:
        return images.clone()
    out = images.float()
    if settings.moves:
        out = _affine(out, settings, generator)
    if settings.photometric is not None:
        out = _photometric(out, settings.photometric, generator)
    if settings.erasing_p:
        out = _erase(out, settings, generator)
    return out.round_().clamp_(0, 255).to(torch.uint8)


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=generator) * (high - low) + low


def _affine(images: torch.Tensor, settings: AugmentSettings, gen: torch.Generator):
    n, _, h, w = images.shape
    angle = _uniform(n, -settings.rotation_deg, settings.rotation_deg, gen) * math.pi / 180
    pad = settings.crop_padding
    # Whole-pixel shifts, as a padded random crop gives; in grid units a pixel is 2/size.
    shift_x = torch.randint(-pad, pad + 1, (n,), generator=gen) * 2.0 / w
    shift_y = torch.randint(-pad, pad + 1, (n,), generator=gen) * 2.0 / h
    mirror = torch.ones(n)
    if settings.flip:
        mirror = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0)
    zoom = _uniform(n, 1 - settings.scale, 1 + settings.scale, gen) if settings.scale else 1.0
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [
            torch.stack([cos * mirror, -sin, shift_x], dim=1),
            torch.stack([sin * mirror, cos, shift_y], dim=1),
        ],
        dim=1,
    )  # (N, 2, 3): output pixel -> input pixel, in [-1, 1] grid units
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    # shifts alone stay pixel-exact
    mode = "bilinear" if settings.rotation_deg or settings.scale else "nearest"
    return F.grid_sample(images, grid, mode=mode, padding_mode="zeros", align_corners=False)


def _photometric(images: torch.Tensor, change: Photometric, gen: torch.Generator):
    n = len(images)
    active = [i for i, limit in enumerate(change.limits) if limit]
    chosen = torch.rand(n, generator=gen) < change.p
    which = torch.tensor(active)[torch.randint(len(active), (n,), generator=gen)]
    level = torch.rand(n, generator=gen)
    signs = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0)
    blur, fade, light, noise = (
        level * limit * (chosen & (which == i)) for i, limit in enumerate(change.limits)
    )
    out = images
    if change.blur_sigma:
        out = distortions.gaussian_blur(out, blur)
    if change.contrast:
        out = distortions.contrast(out, 1 - fade).clamp_(0, 255)
    if change.brightness:
        out = distortions.brightness(out, signs * light).clamp_(0, 255)
    if change.noise_std:
        out = distortions.gaussian_noise(out, noise, gen)
    return out


def _erase(images: torch.Tensor, settings: AugmentSettings, gen: torch.Generator):
    n, _, h, w = images.shape
    area = _uniform(n, *settings.erasing_scale, gen) * h * w
    aspect = torch.exp(_uniform(n, math.log(0.3), math.log(3.3), gen))
    eh = (area * aspect).sqrt().clamp(1, h).floor()
    ew = (area / aspect).sqrt().clamp(1, w).floor()
    top = (torch.rand(n, generator=gen) * (h - eh + 1)).floor()
    left = (torch.rand(n, generator=gen) * (w - ew + 1)).floor()
    chosen = torch.rand(n, generator=gen) < settings.erasing_p
    rows = torch.arange(h).view(1, h, 1)
    cols = torch.arange(w).view(1, 1, w)
    inside = (
        (rows >= top.view(n, 1, 1))
        & (rows < (top + eh).view(n, 1, 1))
        & (cols >= left.view(n, 1, 1))
        & (cols < (left + ew).view(n, 1, 1))
        & chosen.view(n, 1, 1)
    )  # (N, H, W)
    return images.masked_fill(inside.unsqueeze(1), 0.0)


def augmented_copies(
    images: torch.Tensor,
    settings: AugmentSettings,
    copies: int,
    seed: int,
    batch_size: int = 4096,
) -> torch.Tensor:
    """`copies` augmented versions of every image, uint8 (copies * N, C, H, W), seeded."""
    generator = torch.Generator().manual_seed(seed)
    parts = [
        augment_batch(images[start : start + batch_size], settings, generator)
        for _ in range(copies)
        for start in range(0, len(images), batch_size)
    ]
    return torch.cat(parts) if parts else images[:0].clone()
