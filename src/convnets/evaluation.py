"""The one inference path: a model and uint8 images in, float32 logits out.

Evaluate, report and the export parity check all call `predict_logits`; metrics are computed
from its logits, never inside it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from convnets.runtime import Runtime


@torch.no_grad()
def predict_logits(
    model: nn.Module, images: torch.Tensor, runtime: Runtime, batch_size: int = 512
) -> torch.Tensor:
    """Logits (N, classes) in float32 on the CPU for uint8 images (N, C, H, W)."""
    was_training = model.training
    model.eval()
    outputs = []
    try:
        for start in range(0, len(images), batch_size):
            x = runtime.to_input(images[start : start + batch_size])
            with runtime.autocast():
                outputs.append(model(x).float().cpu())
    finally:
        model.train(was_training)
    if not outputs:
        return torch.empty(0, 0)
    return torch.cat(outputs)


def loss_and_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """Mean cross-entropy (no label smoothing: comparable across recipes) and accuracy."""
    loss = F.cross_entropy(logits, labels).item()
    accuracy = (logits.argmax(dim=1) == labels).float().mean().item()
    return loss, accuracy
