"""Figures of what the network learned as a whole: its penultimate features in 2-D, and the
images it would most like to see (activation maximization)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

from convnets.figures.style import bare


def embed_2d(features: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """PCA (linear, global) and t-SNE (non-linear, local neighbourhoods) of (N, D) features."""
    features = features.astype(np.float64)
    perplexity = float(min(30, max(2, (len(features) - 1) // 3)))
    return {
        "PCA": PCA(n_components=2, random_state=seed).fit_transform(features),
        "t-SNE": TSNE(
            n_components=2, perplexity=perplexity, init="pca", random_state=seed
        ).fit_transform(features),
    }


def projection_figure(points: dict[str, np.ndarray], labels: np.ndarray, classes, title: str):
    """One scatter per projection, coloured by true class, with one shared legend."""
    fig, axes = plt.subplots(1, len(points), figsize=(5.2 * len(points) + 1.6, 4.8), squeeze=False)
    colours = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    for ax, (name, xy) in zip(axes[0], points.items(), strict=True):
        for index, label in enumerate(classes):
            chosen = labels == index
            ax.scatter(*xy[chosen].T, s=6, color=colours(index), label=label, alpha=0.8)
        ax.set_title(name, fontsize=9)
        bare(ax)
    axes[0, -1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, markerscale=2)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def dream_figure(rows: dict[str, tuple[torch.Tensor, list[str]]], title: str):
    """Rows of synthesized images (K, C, H, W) in [0, 1], each titled (a class or a channel)."""
    cols = max(len(images) for images, _ in rows.values())
    fig = plt.figure(figsize=(1.35 * cols + 0.4, 1.6 * len(rows) + 0.5))
    axes = fig.subplots(len(rows), cols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for row, (name, (images, titles)) in enumerate(rows.items()):
        for col, (image, label) in enumerate(zip(images, titles, strict=True)):
            pixels = image.permute(1, 2, 0).numpy()
            if pixels.shape[-1] == 1:
                axes[row, col].imshow(pixels[..., 0], cmap="gray", vmin=0, vmax=1)
            else:
                axes[row, col].imshow(pixels)
            axes[row, col].set_title(f"{name}: {label}" if col == 0 else label, fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
