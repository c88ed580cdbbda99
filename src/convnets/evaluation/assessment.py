"""Evaluate one trained variant: test and validation metrics from the one inference path.

Validation metrics are computed exactly as test metrics are, so that `compare` can choose the
best variant by validation alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from convnets.config import TtaSetting
from convnets.data.prepared import PreparedData
from convnets.data.tensors import to_nchw
from convnets.errors import ConvnetsError
from convnets.evaluation.inference import predict_logits, tta_views
from convnets.evaluation.metrics import classification_metrics
from convnets.models.checkpoint import Checkpoint
from convnets.models.complexity import count_parameters, flops_per_image
from convnets.runtime import Runtime

HEADLINE = ("accuracy", "loss", "macro_f1")  # the numbers of each split in metrics.json


@dataclass(frozen=True)
class Assessment:
    test_scores: torch.Tensor  # (N, classes) float32, test split
    val_scores: torch.Tensor  # (N, classes) float32, validation split
    test: dict  # classification_metrics of the test split, per class included
    summary: dict  # what metrics.json holds


def assess(
    ckpt: Checkpoint, data: PreparedData, runtime: Runtime, batch_size: int, tta: TtaSetting
) -> Assessment:
    """Metrics of `ckpt` on the test and validation splits, with the TTA views that apply."""
    if len(data.y_test) == 0 or len(data.y_val) == 0:
        raise ConvnetsError(
            f"the prepared {data.dataset} data have an empty test or validation split. "
            "Fix: raise prepare.subset (0 keeps everything) and run `dvc repro prepare`."
        )
    model = ckpt.build().to(runtime.device)
    views = tta_views(tta, ckpt.params, ckpt.variant)

    def metrics_of(images: np.ndarray, labels: np.ndarray) -> tuple[torch.Tensor, dict]:
        scores = predict_logits(model, to_nchw(images), runtime, batch_size, views)
        truth = torch.from_numpy(labels)
        return scores, classification_metrics(scores, truth, data.classes, model.score_loss)

    test_scores, test = metrics_of(data.x_test, data.y_test)
    val_scores, val = metrics_of(data.x_val, data.y_val)
    summary = {
        "variant": ckpt.variant,
        "model": ckpt.model_name,
        "test": {k: test[k] for k in HEADLINE},
        "val": {k: val[k] for k in HEADLINE},
        "parameters": count_parameters(model),
        "flops_per_image": flops_per_image(model.cpu(), ckpt.input_shape),
        "tta": views.describe(),  # none, flip, shifts or flip+shifts
        "tta_views": views.count,
        "scores": model.score_kind,  # logits, or capsule lengths (whose loss is not CE)
    }
    return Assessment(test_scores, val_scores, test, summary)
