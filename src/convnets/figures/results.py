"""Figures of a model's test results: the normalized confusion matrix and confident mistakes."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from convnets.figures.style import show_image


def confusion_figure(matrix: np.ndarray, classes: tuple[str, ...], title: str):
    """Rows are true classes, normalized to sum to 1: the diagonal is each class's recall."""
    totals = matrix.sum(axis=1, keepdims=True)
    normalized = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
    size = 1.0 + 0.55 * len(classes)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    image = ax.imshow(normalized, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for (row, col), value in np.ndenumerate(normalized):
        if value >= 0.005:
            color = "white" if value > 0.5 else "black"
            ax.text(col, row, f"{value:.2f}", ha="center", va="center", fontsize=6, color=color)
    fig.colorbar(image, ax=ax, fraction=0.046)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def mistakes_figure(images: np.ndarray, mistakes: list[dict], classes: tuple[str, ...], title: str):
    """A grid of wrongly classified uint8 NHWC images, titled true -> predicted (probability)."""
    cols = min(6, max(1, len(mistakes)))
    rows = max(1, -(-len(mistakes) // cols))
    fig = plt.figure(figsize=(1.9 * cols, 2.1 * rows + 0.4))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, mistake in zip(axes.flat, mistakes, strict=False):
        label = (
            f"{classes[mistake['true']]}\n-> {classes[mistake['predicted']]} "
            f"({mistake['probability']:.0%})"
        )
        show_image(ax, images[mistake["index"]], label)
    if not mistakes:
        axes[0, 0].text(0.5, 0.5, "no mistakes", ha="center", va="center")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def tradeoff_figure(table):
    """Test accuracy against training time and against parameter count, one point per variant."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, column, label in (
        (axes[0], "train_seconds", "training time (s)"),
        (axes[1], "parameters", "parameters"),
    ):
        ax.scatter(table[column], table["test_accuracy"] * 100, color="tab:blue")
        for _, row in table.iterrows():
            ax.annotate(
                row["variant"],
                (row[column], row["test_accuracy"] * 100),
                textcoords="offset points",
                xytext=(4, 4),
                fontsize=8,
            )
        ax.set_xscale("log")
        ax.set_xlabel(f"{label}, log scale")
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
    fig.suptitle("Accuracy against cost", fontsize=10)
    fig.tight_layout()
    return fig
