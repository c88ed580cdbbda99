"""Class balance: images per class in each split, as grouped bars."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure


def balance_figure(balance: dict[str, dict[str, int]]) -> Figure:
    """One group of bars per class, one bar per split (`balance`: split -> class -> count)."""
    splits = list(balance)
    classes = list(balance[splits[0]])
    fig: Figure = plt.figure(figsize=(max(5.0, 0.55 * len(classes) + 2), 3.2))
    ax = fig.subplots()
    width = 0.8 / len(splits)
    positions = np.arange(len(classes))
    for offset, split in enumerate(splits):
        counts = [balance[split][name] for name in classes]
        ax.bar(positions + offset * width, counts, width, label=split)
    ax.set_xticks(positions + width * (len(splits) - 1) / 2, classes, rotation=45, ha="right")
    ax.set_ylabel("images")
    ax.set_title("Images per class and split", fontsize=10)
    tallest = max(max(counts.values()) for counts in balance.values())
    ax.set_ylim(0, 1.3 * max(tallest, 1))  # headroom: the legend sits above the bars
    ax.legend(fontsize=8, ncols=len(splits), loc="upper right")
    fig.tight_layout()
    return fig
