"""Image layouts and scale: stored and decoded as uint8 NHWC (as files are), computed as NCHW
(as torch is), in [0, 1] as floats (every model normalizes its input itself)."""

from __future__ import annotations

import numpy as np
import torch


def to_nchw(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, C) numpy -> uint8 (N, C, H, W) torch, contiguous."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()


def to_nhwc(images: torch.Tensor) -> np.ndarray:
    """uint8 (N, C, H, W) torch -> uint8 (N, H, W, C) numpy, contiguous."""
    return images.permute(0, 2, 3, 1).contiguous().numpy()


def to_unit_float(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 pixels, any layout -> float32 in [0, 1], the scale every model takes."""
    return pixels.float() / 255.0
