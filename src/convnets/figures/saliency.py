"""Saliency and Grad-CAM drawn over the images they explain."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from convnets.figures.style import bare, show_image


def attribution_figure(
    images: np.ndarray,
    examples: list[dict],
    maps: dict[str, np.ndarray],
    classes,
    title: str,
    overlaid: tuple[str, ...] = ("Grad-CAM",),
):
    """Per example (a column): the image titled true -> predicted, then one row per method in
    `maps` ((N, H, W) in [0, 1]): a heat map, or drawn over the image for `overlaid` methods
    (Grad-CAM's coarse map reads best on the picture). `examples` hold `index`, `true`,
    `predicted`."""
    cols = max(1, len(examples))
    fig = plt.figure(figsize=(1.7 * cols + 0.6, 1.8 * (len(maps) + 1) + 0.2))
    axes = fig.subplots(len(maps) + 1, cols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for col, example in enumerate(examples):
        image = images[example["index"]]
        mark = "ok" if example["true"] == example["predicted"] else "wrong"
        label = f"{classes[example['true']]}\n-> {classes[example['predicted']]} ({mark})"
        show_image(axes[0, col], image, label)
        for row, (name, values) in enumerate(maps.items(), start=1):
            if name in overlaid:
                show_image(axes[row, col], image)
                axes[row, col].imshow(values[col], cmap="jet", alpha=0.45, vmin=0, vmax=1)
            else:
                axes[row, col].imshow(values[col], cmap="hot", vmin=0, vmax=1)
            axes[row, col].axis("on")
            bare(axes[row, col])
    for row, name in enumerate(maps, start=1):
        axes[row, 0].set_ylabel(name, fontsize=8)
    if not examples:
        axes[0, 0].text(0.5, 0.5, "none", ha="center", va="center")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
