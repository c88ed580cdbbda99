"""Figures of the data itself: originals beside their augmented versions."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from convnets.figures.style import show_image


def augmentation_grid(originals: np.ndarray, augmented: list[np.ndarray], labels: list[str]):
    """Rows of images: the original, then each augmented draw of it. Arrays are uint8 NHWC."""
    rows, cols = len(originals), 1 + len(augmented)
    fig: Figure = plt.figure(figsize=(1.3 * cols, 1.3 * rows + 0.4))
    axes = fig.subplots(rows, cols, squeeze=False)
    for row in range(rows):
        show_image(
            axes[row, 0], originals[row], f"original\n{labels[row]}" if row == 0 else labels[row]
        )
        for col, draw in enumerate(augmented, start=1):
            show_image(axes[row, col], draw[row], f"draw {col}" if row == 0 else None)
    fig.suptitle("Augmentation: each row is one training image", fontsize=10)
    fig.tight_layout()
    return fig


def class_samples_figure(images: np.ndarray, labels: np.ndarray, classes, per_class: int):
    """One row per class with its first `per_class` images (uint8 NHWC), in dataset order."""
    fig: Figure = plt.figure(figsize=(1.0 * per_class + 1.6, 1.0 * len(classes) + 0.4))
    axes = fig.subplots(len(classes), per_class, squeeze=False)
    for row, name in enumerate(classes):
        picked = np.flatnonzero(labels == row)[:per_class]
        for col in range(per_class):
            ax = axes[row, col]
            ax.axis("off")
            if col < len(picked):
                show_image(ax, images[picked[col]])
                ax.axis("on")
        axes[row, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle("Samples of every class", fontsize=10)
    fig.tight_layout()
    return fig
