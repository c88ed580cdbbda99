"""Figures of what a capsule network's class capsules hold (Sabour et al., 2017).

`capsule_lengths_figure`: each image beside the lengths of its class capsules, which are the
model's per-class presence probabilities. With the decoder (`model.decoder is not None`):
`reconstruction_figure`, images beside what the decoder rebuilds from the predicted capsule, and
`perturbation_figure`, the paper's figure 4: one capsule dimension at a time nudged over
[-span, span], to show what each dimension encodes (stroke width, skew, ...).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from convnets.data.tensors import to_nhwc, to_unit_float
from convnets.errors import ConvnetsError
from convnets.figures.style import save_figure, show_image


def capsule_lengths_figure(
    model, images: torch.Tensor, labels: np.ndarray, classes: tuple[str, ...], path: Path
) -> int:
    """uint8 images (N, C, H, W) beside bar charts of their class-capsule lengths; panels drawn.

    The true class's bar is orange, the others blue; the dashed lines are the margin loss's
    targets (0.9 for the present class, 0.1 for the others).
    """
    capsules = _capsules(model, images)  # (N, J, D)
    lengths = capsules.norm(dim=-1).numpy()  # (N, J)
    shown = to_nhwc(images)
    fig, axes = plt.subplots(
        len(images), 2, figsize=(7, 1.6 * len(images)), squeeze=False, width_ratios=[1, 3]
    )
    for row, (image_ax, bar_ax) in enumerate(axes):
        predicted = int(lengths[row].argmax())
        show_image(image_ax, shown[row], f"{classes[labels[row]]} -> {classes[predicted]}")
        colors = ["tab:orange" if j == labels[row] else "tab:blue" for j in range(len(classes))]
        bar_ax.barh(range(len(classes)), lengths[row], color=colors)
        bar_ax.set_yticks(range(len(classes)), classes, fontsize=6)
        bar_ax.invert_yaxis()
        bar_ax.set_xlim(0, 1)
        for margin in (0.1, 0.9):
            bar_ax.axvline(margin, color="grey", linestyle="--", linewidth=0.6)
    axes[-1, 1].set_xlabel("class capsule length (probability the class is present)")
    fig.suptitle("Class capsule lengths (orange: true class)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
    return axes.size


def reconstruction_figure(model, images: torch.Tensor, classes: tuple[str, ...], path: Path) -> int:
    """Each uint8 image (N, C, H, W) over its reconstruction from the predicted capsule."""
    _require_decoder(model)
    capsules = _capsules(model, images)  # (N, J, D)
    predicted = capsules.norm(dim=-1).argmax(dim=1)
    with torch.no_grad():
        rebuilt = model.decode(capsules, predicted)  # (N, C, H, W) in [0, 1]
    pairs = (to_nhwc(images), _to_uint8(rebuilt))
    fig, axes = plt.subplots(2, len(images), figsize=(1.3 * len(images), 3), squeeze=False)
    for col in range(len(images)):
        show_image(axes[0, col], pairs[0][col], "input" if col == 0 else None)
        show_image(axes[1, col], pairs[1][col])
        axes[1, col].set_xlabel(classes[int(predicted[col])], fontsize=8)  # below: titles overlap
    fig.suptitle("Inputs (top) and reconstructions from the predicted capsule", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
    return axes.size


def perturbation_figure(
    model,
    image: torch.Tensor,
    classes: tuple[str, ...],
    path: Path,
    steps: int = 11,
    span: float = 0.25,
) -> int:
    """One uint8 image (C, H, W): rows are capsule dimensions, columns offsets in [-span, span].

    Every reconstruction comes from the predicted class capsule with one dimension shifted, in
    one batch; the mosaic is a single image, so a 16 x 11 grid draws as fast as one panel.
    Returns the number of reconstructions.
    """
    _require_decoder(model)
    capsules = _capsules(model, image.unsqueeze(0))  # (1, J, D)
    predicted = int(capsules.norm(dim=-1).argmax())
    dims = capsules.shape[-1]
    offsets = torch.linspace(-span, span, steps)
    nudged = capsules.repeat(dims * steps, 1, 1)  # (dims * steps, J, D)
    rows = torch.arange(dims).repeat_interleave(steps)
    nudged[torch.arange(len(rows)), predicted, rows] += offsets.repeat(dims)
    with torch.no_grad():
        rebuilt = model.decode(nudged, torch.full((len(rows),), predicted))  # (dims*steps, C, H, W)
    channels, height, width = image.shape
    mosaic = _to_uint8(rebuilt).reshape(dims, steps, height, width, channels)
    mosaic = mosaic.transpose(0, 2, 1, 3, 4).reshape(dims * height, steps * width, channels)
    fig, ax = plt.subplots(figsize=(0.55 * steps + 1, 0.55 * dims + 1))
    show_image(ax, mosaic)
    ax.set_xticks(
        [width * (i + 0.5) for i in range(steps)],
        [f"{float(o) + 0.0:+.2f}" for o in offsets],
        fontsize=6,
    )
    ax.set_yticks([height * (d + 0.5) for d in range(dims)], range(dims), fontsize=6)
    ax.set_xlabel("offset added to the dimension")
    ax.set_ylabel("capsule dimension")
    ax.set_title(f"Perturbing the {classes[predicted]!r} capsule", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
    return dims * steps


def _capsules(model, images: torch.Tensor) -> torch.Tensor:
    """Class capsules (N, J, D) of uint8 images (N, C, H, W), in eval mode and float32."""
    with torch.no_grad():
        return model.eval().capsules(to_unit_float(images))


def _require_decoder(model) -> None:
    if getattr(model, "decoder", None) is None:
        raise ConvnetsError(
            "this capsule network has no decoder, so it cannot reconstruct images. "
            "Fix: train it with variants.<name>.options.decoder: true, or skip this figure."
        )


def _to_uint8(images: torch.Tensor) -> np.ndarray:
    """Float images (N, C, H, W) in [0, 1] -> uint8 (N, H, W, C) for display."""
    return to_nhwc((images.clamp(0, 1) * 255).round().to(torch.uint8))
