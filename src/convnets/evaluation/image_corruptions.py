"""A seeded, offline corruption suite in the spirit of MNIST-C (Mu and Gilmer, 2019) and
ImageNet-C (Hendrycks and Dietterich, 2019): fifteen ordinary ways a real picture differs from
the dataset's, each at five severities (`corruption_suite` names them), made from test images.

A corrupted set depends only on the images, the corruption, the severity and the seed, never
on the model, so every variant is measured on the same pictures.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from convnets.data import distortions as d
from convnets.evaluation.corruption_suite import NAMES, strength

# float (N, C, H, W) in [0, 255], the severity's strength, a seeded generator -> float pixels
Corrupt = Callable[[torch.Tensor, float, torch.Generator], torch.Tensor]


def _signs(n: int, gen: torch.Generator) -> torch.Tensor:
    return torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0)


def _full(x: torch.Tensor, value: float) -> torch.Tensor:
    return torch.full((len(x),), float(value))


def _px(x: torch.Tensor, pixels: float) -> float:
    """Pixels of a 28-pixel image, at this image's size."""
    return pixels * x.shape[-1] / 28


def _shot(x, photons, gen):
    """Photon noise: each pixel a Poisson count of `photons` at full white."""
    return torch.poisson(x / 255 * photons, generator=gen) * 255 / photons


def _impulse(x, fraction, gen):
    """Salt and pepper: `fraction` of the pixels set to black or white."""
    hit = torch.rand(x.shape, generator=gen) < fraction
    salt = torch.rand(x.shape, generator=gen) < 0.5
    return torch.where(hit, salt.float() * 255, x)


def _motion_blur(x, length, gen):
    """The mean of 7 copies spread along a streak `length` pixels long, one direction per image."""
    n, taps = len(x), 7
    angle = torch.rand(n, generator=gen) * torch.pi
    steps = torch.linspace(-0.5, 0.5, taps) * _px(x, length)
    ones, zeros = torch.ones(n), torch.zeros(n)
    copies = [
        d.affine(x, zeros, ones, zeros, (step * torch.cos(angle), step * torch.sin(angle)))
        for step in steps
    ]
    return torch.stack(copies).mean(0)


def _jpeg(x, quality, gen):
    """Each image saved as a JPEG at `quality` and read back (Pillow, in memory)."""
    out = []
    for image in x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy():
        buffer = io.BytesIO()
        Image.fromarray(image.squeeze(-1) if image.shape[-1] == 1 else image).save(
            buffer, "JPEG", quality=int(quality)
        )
        decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())), dtype=np.float32)
        out.append(decoded.reshape(image.shape))
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2)


def _pixelate(x, block, gen):
    """Each square of `block` pixels replaced by its mean: a picture enlarged from a tiny one."""
    side = max(1, round(_px(x, block)))
    means = F.avg_pool2d(x, side, ceil_mode=True)
    blocks = F.interpolate(means, scale_factor=side, mode="nearest")
    return blocks[..., : x.shape[-2], : x.shape[-1]]


def _occlusion(x, side, gen):
    """A square of `side` pixels, of one random grey level, somewhere over the centre half."""
    n, _, h, w = x.shape
    s = max(1, round(_px(x, side)))
    top = torch.randint(h // 4 - s // 2, h - h // 4 - s // 2 + 1, (n,), generator=gen)
    left = torch.randint(w // 4 - s // 2, w - w // 4 - s // 2 + 1, (n,), generator=gen)
    rows, cols = torch.arange(h).view(1, h, 1), torch.arange(w).view(1, 1, w)
    top, left = top.clamp(0, h - s).view(n, 1, 1), left.clamp(0, w - s).view(n, 1, 1)
    inside = (rows >= top) & (rows < top + s) & (cols >= left) & (cols < left + s)
    level = (torch.rand(n, generator=gen) * 255).view(n, 1, 1, 1)
    return torch.where(inside.unsqueeze(1), level, x)


def _stripes(x, amplitude, gen):
    """Bands of light and dark (a screen, a mesh, interference) at a random angle and phase."""
    n, _, h, w = x.shape
    angle = (torch.rand(n, generator=gen) * torch.pi).view(n, 1, 1, 1)
    phase = (torch.rand(n, generator=gen) * 2 * torch.pi).view(n, 1, 1, 1)
    period = _px(x, 6)
    rows = torch.arange(h, dtype=torch.float32).view(1, 1, h, 1)
    cols = torch.arange(w, dtype=torch.float32).view(1, 1, 1, w)
    across = cols * torch.cos(angle) + rows * torch.sin(angle)
    return x + amplitude * 255 * torch.sin(2 * torch.pi * across / period + phase)


def _geometric(angle=0.0, scale=0.0, shear=0.0, shift=0.0) -> Corrupt:
    """An affine corruption of one kind; the sign (or direction of a shift) is random."""

    def apply(x, strength, gen):
        n = len(x)
        zeros, ones = torch.zeros(n), torch.ones(n)
        if shift:
            direction = torch.rand(n, generator=gen) * 2 * torch.pi
            step = _px(x, strength)
            return d.affine(
                x, zeros, ones, zeros, (step * torch.cos(direction), step * torch.sin(direction))
            )
        sign = _signs(n, gen)
        return d.affine(
            x,
            sign * strength if angle else zeros,
            (1 + sign * strength) if scale else ones,
            sign * strength if shear else zeros,
            (zeros, zeros),
        )

    return apply


APPLY: dict[str, Corrupt] = {  # one per name of corruption_suite.SUITE
    "gaussian_noise": lambda x, s, g: d.gaussian_noise(x, _full(x, s), g),
    "shot_noise": _shot,
    "impulse_noise": _impulse,
    "gaussian_blur": lambda x, s, g: d.gaussian_blur(x, _full(x, _px(x, s))),
    "motion_blur": _motion_blur,
    "pixelate": _pixelate,
    "jpeg": _jpeg,
    "brightness": lambda x, s, g: d.brightness(x, _full(x, s)),
    "contrast": lambda x, s, g: d.contrast(x, _full(x, s)),
    "rotate": _geometric(angle=1),
    "shear": _geometric(shear=1),
    "scale": _geometric(scale=1),
    "translate": _geometric(shift=1),
    "occlusion": _occlusion,
    "stripes": _stripes,
}


def corrupt(images: torch.Tensor, name: str, severity: int, seed: int) -> torch.Tensor:
    """uint8 (N, C, H, W) images with corruption `name` at `severity` (1 to 5), seeded."""
    gen = torch.Generator().manual_seed(seed * 1000 + NAMES.index(name) * 10 + severity)
    out = APPLY[name](images.float(), strength(name, severity), gen)
    return out.round().clamp(0, 255).to(torch.uint8)
