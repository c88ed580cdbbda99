"""Figures of the data itself: originals beside their augmented versions."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from convnets.visuals.figures import show_image


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
