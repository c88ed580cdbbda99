"""Saliency and Grad-CAM drawn over the images they explain."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from convnets.figures.style import bare, show_image


def attribution_figure(
    images: np.ndarray,
    examples: list[dict],
    saliency: np.ndarray,
    cam: np.ndarray,
    classes,
    title: str,
):
    """Per example (a column): the image titled true -> predicted, its saliency map, and its
    Grad-CAM heat map over the image. `examples` hold `index`, `true`, `predicted`."""
    cols = max(1, len(examples))
    fig = plt.figure(figsize=(1.7 * cols + 0.6, 5.6))
    axes = fig.subplots(3, cols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for col, example in enumerate(examples):
        image = images[example["index"]]
        mark = "ok" if example["true"] == example["predicted"] else "wrong"
        label = f"{classes[example['true']]}\n-> {classes[example['predicted']]} ({mark})"
        show_image(axes[0, col], image, label)
        axes[1, col].imshow(saliency[col], cmap="hot", vmin=0, vmax=1)
        show_image(axes[2, col], image)
        axes[2, col].imshow(cam[col], cmap="jet", alpha=0.45, vmin=0, vmax=1)
        for row in (1, 2):
            axes[row, col].axis("on")
            bare(axes[row, col])
    axes[1, 0].set_ylabel("saliency", fontsize=8)
    axes[2, 0].set_ylabel("Grad-CAM", fontsize=8)
    if not examples:
        axes[0, 0].text(0.5, 0.5, "none", ha="center", va="center")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
