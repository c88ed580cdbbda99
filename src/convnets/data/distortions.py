"""Per-image photometric and geometric changes of a float batch, one parameter per image.

Shared by training's batch augmentation (random strengths) and the corruption benchmark (fixed
strengths at each severity), so that "trained on blur" and "tested on blur" mean the same blur.
Every function takes float pixels (N, C, H, W) in [0, 255] and per-image parameters of shape (N,),
and returns float pixels that the caller rounds and clamps.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def gaussian_noise(x: torch.Tensor, std: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Add white noise of `std` grey levels, independent per pixel (sensor read noise)."""
    noise = torch.randn(x.shape, generator=gen)
    return x + noise * std.view(-1, 1, 1, 1)


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Blur each image with its own Gaussian of `sigma` pixels (0 leaves it unchanged).

    One grouped convolution for the batch: every (image, channel) plane is its own group with
    its own kernel, so there is no per-image loop.
    """
    n, c, h, w = x.shape
    radius = max(1, int(torch.ceil(3 * sigma.max()).item()))
    taps = torch.arange(-radius, radius + 1, dtype=torch.float32)
    safe = sigma.clamp(min=1e-3).view(n, 1)
    kernel = torch.exp(-0.5 * (taps.view(1, -1) / safe) ** 2)
    kernel = torch.where(sigma.view(n, 1) > 0, kernel, (taps == 0).float().view(1, -1))
    kernel = (kernel / kernel.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (N*C, taps)
    planes = F.pad(x.reshape(1, n * c, h, w), (radius,) * 4, mode="replicate")
    rows = F.conv2d(planes, kernel.view(n * c, 1, 1, -1), groups=n * c)
    both = F.conv2d(rows, kernel.view(n * c, 1, -1, 1), groups=n * c)
    return both.view(n, c, h, w)


def brightness(x: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """Add `offset` grey levels to every pixel (an over- or under-exposed picture)."""
    return x + offset.view(-1, 1, 1, 1)


def contrast(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Scale each image's pixels about its own mean by `factor` (below 1: a washed-out picture)."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * factor.view(-1, 1, 1, 1) + mean


def affine(
    x: torch.Tensor,
    angle_deg: torch.Tensor,
    scale: torch.Tensor,
    shear: torch.Tensor,
    shift_px: tuple[torch.Tensor, torch.Tensor],
    mode: str = "bilinear",
) -> torch.Tensor:
    """Rotate, scale (above 1: larger), shear and shift each image about its centre; the
    uncovered border is black, the dataset's background."""
    h, w = x.shape[-2:]
    rad = angle_deg * torch.pi / 180
    cos, sin = torch.cos(rad) / scale, torch.sin(rad) / scale
    dx, dy = shift_px
    # output grid -> input grid, in [-1, 1] units (a pixel is 2/size): inverse of the change
    theta = torch.stack(
        [
            torch.stack([cos, -sin + shear * cos, -dx * 2.0 / w], dim=1),
            torch.stack([sin, cos + shear * sin, -dy * 2.0 / h], dim=1),
        ],
        dim=1,
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode=mode, padding_mode="zeros", align_corners=False)
