"""The images whose labels the model most confidently disputes, for a person to judge."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from convnets.errors import ConvnetsError
from convnets.evaluation.confident_learning import LabelIssue
from convnets.figures.style import show_image

COLUMNS = 8  # panels per row


def label_issues_figure(
    images: dict[str, np.ndarray],
    issues: list[LabelIssue],
    classes: Sequence[str],
    count: int,
    empty: str = "no likely label errors found",  # the figure's text when there is no issue
) -> Figure:
    """A grid of the first `count` issues (lowest label quality first), uint8 NHWC per split.

    Each panel is titled with the given and the suggested class, its split and index below.
    """
    if count < 0:
        raise ConvnetsError(f"the number of label issues to show must be >= 0. Got {count}.")
    shown = issues[:count]
    if not shown:
        fig: Figure = plt.figure(figsize=(4.0, 1.2))
        fig.text(0.5, 0.5, empty, ha="center", va="center", wrap=True)
        return fig
    cols = min(len(shown), COLUMNS)
    rows = -(-len(shown) // cols)
    fig = plt.figure(figsize=(1.35 * cols, 1.75 * rows + 0.4))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, issue in zip(axes, shown, strict=False):
        given, suggested = _short(classes[issue.given]), _short(classes[issue.suggested])
        show_image(ax, images[issue.split][issue.index])
        ax.set_title(f"given: {given}\nsuggested: {suggested}", fontsize=7)
        ax.set_xlabel(f"{issue.split} #{issue.index}  q={issue.quality:.3f}", fontsize=6)
    for ax in axes[len(shown) :]:
        ax.axis("off")
    fig.suptitle("Likely label errors (confident learning), least trusted label first", fontsize=10)
    fig.tight_layout()
    return fig


def _short(name: str) -> str:
    """The name up to its first slash ("T-shirt/top" -> "T-shirt"): panels are ~1 inch wide."""
    return name.split("/")[0]
