"""The reliability diagram: accuracy against confidence per bin, before and after temperature."""

from __future__ import annotations

import matplotlib.pyplot as plt


def reliability_figure(bins: dict, title: str):
    """`bins`: {"before": [...], "after": [...]}, each row {low, confidence, accuracy, count}.

    Bars are each bin's accuracy at its mean confidence; the diagonal is perfect calibration,
    so a bar below it is over-confident and one above it under-confident.
    """
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.8), sharey=True)
    for ax, (name, rows) in zip(axes, bins.items(), strict=True):
        width = 1.0 / len(rows)
        used = [r for r in rows if r["count"]]
        ax.bar([r["low"] for r in used], [r["accuracy"] for r in used], width=width,
               align="edge", color="#4c72b0", edgecolor="white", label="accuracy")  # fmt: skip
        ax.plot([r["confidence"] for r in used], [r["accuracy"] for r in used], "o", ms=3,
                color="#dd8452", label="at mean confidence")  # fmt: skip
        ax.plot([0, 1], [0, 1], "--", color="grey", lw=1)
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (top probability)", title=name)
    axes[0].set_ylabel("accuracy")
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
