"""Accuracy against corruption severity: one panel per corruption family, one line per variant,
with each variant's clean accuracy on the same images as a dotted line."""

from __future__ import annotations

import matplotlib.pyplot as plt

from convnets.evaluation.corruption_suite import FAMILIES


def corruption_figure(results: dict[str, dict]):
    """`results`: variant -> the corruptions stage's JSON."""
    families = [f for f in FAMILIES if any(f in r["families"] for r in results.values())]
    fig, axes = plt.subplots(1, len(families), figsize=(2.6 * len(families) + 0.6, 3.2))
    axes = [axes] if len(families) == 1 else list(axes)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, family in zip(axes, families, strict=True):
        for i, (variant, result) in enumerate(results.items()):
            rows = result["families"].get(family, {})
            severities = sorted(rows, key=int)
            color = colors[i % len(colors)]
            values = [rows[s] * 100 for s in severities]
            ax.plot([int(s) for s in severities], values, marker="o", color=color, label=variant)
            ax.axhline(result["clean"] * 100, color=color, linestyle=":", linewidth=1)
        ax.set_title(family, fontsize=9)
        ax.set_xlabel("severity")
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test accuracy (%)")
    axes[-1].legend(fontsize=7, loc="lower left")
    means = ", ".join(f"{v} {r['mean']:.1%}" for v, r in results.items())
    fig.suptitle(f"Accuracy on corrupted test images (dotted: clean). Mean: {means}", fontsize=9)
    fig.tight_layout()
    return fig
