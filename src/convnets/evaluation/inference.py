"""The one inference path: a model and uint8 images in, float32 logits out.

Evaluate, report, export's parity check and training's validation all call `predict_logits`,
so the numbers they report come from the same arithmetic. `flip_tta_applies` is the rule for
when mirror test-time augmentation is used.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from convnets.runtime import Runtime


@torch.no_grad()
def predict_logits(
    model: nn.Module,
    images: torch.Tensor,
    runtime: Runtime,
    batch_size: int = 512,
    flip_tta: bool = False,
) -> torch.Tensor:
    """Logits (N, classes) in float32 on the CPU for uint8 images (N, C, H, W).

    With `flip_tta`, each image's logits are averaged with those of its horizontal mirror
    (test-time augmentation), which suits data whose classes survive a flip.
    """
    was_training = model.training
    model.eval()
    outputs = []
    try:
        for start in range(0, len(images), batch_size):
            x = runtime.to_input(images[start : start + batch_size])
            with runtime.autocast():
                logits = model(x).float()
                if flip_tta:
                    logits = (logits + model(x.flip(-1)).float()) / 2
            outputs.append(logits.cpu())
    finally:
        model.train(was_training)
    if not outputs:
        raise ValueError("predict_logits got no images")
    return torch.cat(outputs)


def flip_tta_applies(trained_params: dict[str, Any], variant: str) -> bool:
    """Whether the model saw mirrored images in training: only then does flip TTA help.

    Measured here: flip TTA costs a model trained without flips (our MLP) about 9 points.
    `trained_params` is the params.yaml the checkpoint records, so the rule follows the model.
    """
    augment, train = trained_params["augment"], trained_params["train"]
    override = trained_params["variants"][variant].get("batch_augment")
    batch_augment = train["batch_augment"] if override is None else override
    return bool(augment["flip"] and (batch_augment or augment["copies"] > 0))
