"""Saving figures: headless (Agg), atomic, byte-for-byte reproducible, always closed."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from convnets import io


def save_figure(fig: Figure, path: Path, dpi: int = 100) -> None:
    """Write a PNG with no timestamp or version metadata (equal inputs, equal bytes), then close."""
    try:
        with io.atomic_write(path) as handle:
            fig.savefig(handle, format="png", dpi=dpi, metadata={"Software": None})
    finally:
        plt.close(fig)


def bare(ax) -> None:
    """No ticks: pixel coordinates say nothing in an image panel."""
    ax.set_xticks([])
    ax.set_yticks([])


def show_image(ax, image: np.ndarray, title: str | None = None) -> None:
    """One uint8 (H, W, C) image on an axis without ticks; grayscale for a single channel."""
    if image.shape[-1] == 1:
        ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=255)
    else:
        ax.imshow(image)
    bare(ax)
    if title:
        ax.set_title(title, fontsize=8)
