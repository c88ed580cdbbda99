"""The model card's failure modes: test images of each often-confused pair of classes."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from convnets.figures.style import show_image


def confused_pairs_figure(images: np.ndarray, pairs: list[dict], title: str):
    """One row per pair (`true`, `predicted`, `count`, `examples`: test indices), its images."""
    cols = max([1, *(len(p["examples"]) for p in pairs)])
    fig = plt.figure(figsize=(1.6 * cols + 0.4, 1.9 * max(1, len(pairs)) + 0.4))
    axes = fig.subplots(max(1, len(pairs)), cols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for row, pair in enumerate(pairs):
        for col, index in enumerate(pair["examples"]):
            label = f"{pair['true']}\n-> {pair['predicted']}" if col == 0 else f"#{index}"
            show_image(axes[row, col], images[index], label)
    if not pairs:
        axes[0, 0].text(0.5, 0.5, "no mistakes", ha="center", va="center")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
