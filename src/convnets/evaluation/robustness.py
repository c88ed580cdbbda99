"""Accuracy of one model on the corruption suite: per corruption and severity, per family, and
the mean over every corruption and severity (the mean corruption accuracy of MNIST-C)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from convnets.evaluation.corruption_suite import SUITE, family
from convnets.evaluation.image_corruptions import corrupt
from convnets.evaluation.inference import predict_logits
from convnets.runtime import Runtime


@dataclass(frozen=True)
class Suite:
    """Which corruptions, at which severities, on how many test images, from which seed."""

    names: tuple[str, ...]
    severities: tuple[int, ...]
    seed: int


def corruption_accuracy(
    model: torch.nn.Module,
    images: torch.Tensor,
    labels: np.ndarray,
    runtime: Runtime,
    batch_size: int,
    suite: Suite,
) -> dict:
    """Accuracy of `model` on uint8 `images` (N, C, H, W) under each corruption and severity.

    No test-time augmentation: the figure is about the model, and TTA would multiply the time.
    """
    truth = torch.from_numpy(labels)

    def accuracy(batch: torch.Tensor) -> float:
        scores = predict_logits(model, batch, runtime, batch_size)
        return float((scores.argmax(1) == truth).float().mean())

    table: dict[str, dict[str, float]] = {}
    jobs = [(name, severity) for name in suite.names for severity in suite.severities]
    for name, severity in tqdm(jobs, desc="corruptions", unit="set", disable=None):
        batch = corrupt(images, name, severity, suite.seed)
        table.setdefault(name, {})[str(severity)] = accuracy(batch)
    return {
        "images": len(images),
        "seed": suite.seed,
        "clean": accuracy(images),
        "mean": float(np.mean([a for row in table.values() for a in row.values()])),
        "families": _by_family(table),
        "accuracy": table,
        "strengths": {name: list(SUITE[name][1]) for name in suite.names},
    }


def _by_family(table: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Each family's mean accuracy at each severity: the report's lines."""
    grouped: dict[str, dict[str, list[float]]] = {}
    for name, row in table.items():
        for severity, value in row.items():
            grouped.setdefault(family(name), {}).setdefault(severity, []).append(value)
    return {
        kind: {severity: float(np.mean(values)) for severity, values in rows.items()}
        for kind, rows in grouped.items()
    }
