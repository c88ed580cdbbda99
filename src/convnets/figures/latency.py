"""The benchmark figure: batch-1 latency and throughput per engine."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def benchmark_figure(reports: dict[str, dict]):
    names = list(reports)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    p50 = [reports[n]["latency_ms"]["p50"] for n in names]
    p99 = [reports[n]["latency_ms"]["p99"] for n in names]
    x = np.arange(len(names))
    left.bar(x - 0.2, p50, 0.4, label="p50")
    left.bar(x + 0.2, p99, 0.4, label="p99")
    left.set_xticks(x, names, rotation=15, fontsize=8)
    left.set_ylabel("batch-1 latency (ms)")
    left.legend()
    batches = list(reports[names[0]]["images_per_second"])
    width = 0.8 / len(batches)
    for i, batch in enumerate(batches):
        rates = [reports[n]["images_per_second"][batch] for n in names]
        right.bar(x + (i - (len(batches) - 1) / 2) * width, rates, width, label=f"batch {batch}")
    right.set_xticks(x, names, rotation=15, fontsize=8)
    right.set_ylabel("images / s")
    right.legend()
    fig.suptitle("Inference on the test set, same threads for every engine", fontsize=10)
    fig.tight_layout()
    return fig
