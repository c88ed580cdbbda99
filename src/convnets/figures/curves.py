"""Training curves of every variant from the per-epoch TSV files dvclive writes."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

CURVES = (
    ("val/loss", "validation loss"),
    ("val/accuracy", "validation accuracy"),
    ("train/loss", "training loss (with label smoothing)"),
)


def read_curves(live_dir: Path) -> dict[str, pd.DataFrame]:
    """The curves a variant's dvclive folder holds, by name (e.g. 'val/loss'); missing ones
    are left out, so a run stopped early still draws what it has."""
    found = {}
    for name, _ in CURVES:
        path = live_dir / "plots" / "metrics" / f"{name}.tsv"
        if path.is_file():
            found[name] = pd.read_csv(path, sep="\t")
    return found


def curves_figure(runs: dict[str, dict[str, pd.DataFrame]]):
    """One panel per curve, one line per variant, against the epoch."""
    fig, axes = plt.subplots(1, len(CURVES), figsize=(5.0 * len(CURVES), 3.6))
    for ax, (name, label) in zip(axes, CURVES, strict=True):
        metric = name.split("/")[-1]
        for variant, curves in runs.items():
            if name in curves:
                frame = curves[name]
                ax.plot(frame["step"] + 1, frame[metric], marker="o", ms=3, label=variant)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Training curves (the checkpoint kept is the one with the lowest val loss)")
    fig.tight_layout()
    return fig
