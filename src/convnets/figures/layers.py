"""Figures of a network's insides: learned filters, activation maps, and the test patches that
excite each channel most ("what each layer sees", after Zeiler & Fergus 2014)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from convnets.figures.style import bare, show_image


def filters_figure(weight: torch.Tensor, layer: str, limit: int = 32):
    """The first `limit` kernels (O, I, k, k) of a layer: RGB for 3 input channels (each kernel
    stretched to [0, 1]), otherwise the mean over inputs on a red/blue scale."""
    kernels = weight.detach().float()[:limit]
    cols = min(8, len(kernels))
    rows = -(-len(kernels) // cols)
    fig = plt.figure(figsize=(1.1 * cols, 1.1 * rows + 0.5))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, kernel in zip(axes.flat, kernels, strict=False):
        if kernel.shape[0] == 3:
            low, high = kernel.min(), kernel.max()
            ax.imshow(((kernel - low) / (high - low + 1e-12)).permute(1, 2, 0).numpy())
        else:
            mean = kernel.mean(dim=0).numpy()
            limit_value = float(np.abs(mean).max()) or 1.0
            ax.imshow(mean, cmap="RdBu_r", vmin=-limit_value, vmax=limit_value)
    fig.suptitle(f"Learned filters of {layer} ({tuple(weight.shape)})", fontsize=10)
    fig.tight_layout()
    return fig


def activation_maps_figure(image: np.ndarray, maps: dict[str, torch.Tensor], channels: int = 8):
    """Row 0: the input image. Then one row per layer: its first `channels` maps (C, H', W'),
    each titled with the layer's output shape on the first column."""
    rows = 1 + len(maps)
    fig = plt.figure(figsize=(1.25 * channels + 1.0, 1.35 * rows + 0.3))
    axes = fig.subplots(rows, channels, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    show_image(axes[0, 0], image, "input")
    for row, (name, fmap) in enumerate(maps.items(), start=1):
        for col in range(min(channels, fmap.shape[0])):
            ax = axes[row, col]
            ax.imshow(fmap[col].float().numpy(), cmap="viridis")
            ax.axis("on")
            bare(ax)
        shape = "x".join(str(s) for s in fmap.shape)
        axes[row, 0].set_title(f"{name}: {shape}", fontsize=7, loc="left")
    fig.suptitle("Activation maps of one test image, layer by layer", fontsize=10)
    fig.tight_layout()
    return fig


def mosaic(patches: list[np.ndarray], side: int = 3) -> np.ndarray:
    """Up to side*side equal-sized (h, w, C) uint8 patches in a grid, with 1-pixel gaps."""
    h, w, c = patches[0].shape
    grid = np.full((side * (h + 1) - 1, side * (w + 1) - 1, c), 255, dtype=np.uint8)
    for i, patch in enumerate(patches[: side * side]):
        row, col = divmod(i, side)
        grid[row * (h + 1) : row * (h + 1) + h, col * (w + 1) : col * (w + 1) + w] = patch
    return grid


def top_patches_figure(layers: dict[str, list[tuple[int, list[np.ndarray]]]], title: str):
    """One row per layer, one 3x3 mosaic per (channel, patches): the test patches that excite
    that channel most, each as large as the layer's receptive field."""
    rows = len(layers)
    cols = max(len(channels) for channels in layers.values())
    fig = plt.figure(figsize=(1.7 * cols + 0.8, 1.9 * rows + 0.4))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for row, (name, channels) in enumerate(layers.items()):
        for col, (channel, patches) in enumerate(channels):
            size = patches[0].shape[0]
            label = f"{name} ch {channel}\n{size}px field" if col == 0 else f"ch {channel}"
            show_image(axes[row, col], mosaic(patches), label)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
