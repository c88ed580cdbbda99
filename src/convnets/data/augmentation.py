"""Batched, per-image random augmentation of uint8 image tensors.

torchvision's v2 random transforms draw one set of parameters per call, so a batch tensor gets
the same crop, flip and angle for every image. Here each image draws its own: crop offset, flip
and rotation become one affine matrix per image, applied to the whole batch by one
`affine_grid` + `grid_sample` call; random erasing is a per-image rectangle mask (as in
torchvision's `RandomErasing`, Zhong et al. 2017).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from convnets.config import AugmentConfig


@dataclass(frozen=True)
class AugmentSettings:
    crop_padding: int  # pixels: each image shifts by up to this much, as a padded random crop
    flip: bool  # random horizontal flip, p = 0.5
    rotation_deg: float  # each image turns by a uniform angle in [-rotation_deg, rotation_deg]
    erasing_p: float  # probability that an image gets one random rectangle erased
    erasing_scale: tuple[float, float] = (0.02, 0.2)  # erased area, as a fraction of the image

    @property
    def is_identity(self) -> bool:
        return not (self.crop_padding or self.flip or self.rotation_deg or self.erasing_p)

    @classmethod
    def from_config(cls, cfg: AugmentConfig) -> AugmentSettings:
        return cls(cfg.crop_padding, cfg.flip, cfg.rotation_deg, cfg.erasing_p)


def augment_batch(
    images: torch.Tensor, settings: AugmentSettings, generator: torch.Generator
) -> torch.Tensor:
    """Return augmented copies of `images`, uint8 (N, C, H, W), each with its own random draw."""
    if settings.is_identity:
        return images.clone()
    out = images.float()
    if settings.crop_padding or settings.flip or settings.rotation_deg:
        out = _affine(out, settings, generator)
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
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack(
        [
            torch.stack([cos * mirror, -sin, shift_x], dim=1),
            torch.stack([sin * mirror, cos, shift_y], dim=1),
        ],
        dim=1,
    )  # (N, 2, 3): output pixel -> input pixel, in [-1, 1] grid units
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    mode = "bilinear" if settings.rotation_deg else "nearest"  # shifts alone stay pixel-exact
    return F.grid_sample(images, grid, mode=mode, padding_mode="zeros", align_corners=False)


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
