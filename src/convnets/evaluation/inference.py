"""The one inference path: a model and uint8 images in, float32 logits out.

Evaluate, report, export's parity check and training's validation all call `predict_logits`,
so the numbers they report come from the same arithmetic. `tta_views` is the rule for which
test-time augmentation views a model gets: only those it saw in training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from convnets.config import TtaSetting
from convnets.runtime import Runtime


@dataclass(frozen=True)
class Views:
    """Which copies of each image test-time augmentation averages the logits of.

    The shifts are those a padded random crop gives in training: one pixel up, down, left and
    right, the uncovered edge zero-filled. With both flags each shift is also mirrored: 10 views.
    """

    flip: bool = False
    shifts: bool = False

    @property
    def count(self) -> int:
        return (2 if self.flip else 1) * (5 if self.shifts else 1)

    def describe(self) -> str:
        """For metrics.json and the model card: `none`, `flip`, `shifts` or `flip+shifts`."""
        names = [name for name, on in (("flip", self.flip), ("shifts", self.shifts)) if on]
        return "+".join(names) or "none"

    def of(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The views of a float batch (N, C, H, W), the batch itself first."""
        views = [x]
        if self.shifts:
            padded = F.pad(x, (1, 1, 1, 1))
            h, w = x.shape[-2:]
            for dy, dx in ((0, 1), (2, 1), (1, 0), (1, 2)):  # down, up, right, left by one pixel
                shifted = padded[..., dy : dy + h, dx : dx + w]
                views.append(shifted.contiguous(memory_format=torch.channels_last))
        if self.flip:
            views += [view.flip(-1) for view in views]
        return views


PLAIN = Views()


@torch.no_grad()
def predict_logits(
    model: nn.Module,
    images: torch.Tensor,
    runtime: Runtime,
    batch_size: int = 512,
    views: Views = PLAIN,
) -> torch.Tensor:
    """Logits (N, classes) in float32 on the CPU for uint8 images (N, C, H, W).

    With `views` other than PLAIN, each image's logits are the mean over its views (test-time
    augmentation), which suits models trained to give the same class to each of them.
    """
    was_training = model.training
    model.eval()
    outputs = []
    try:
        for start in range(0, len(images), batch_size):
            x = runtime.to_input(images[start : start + batch_size])
            with runtime.autocast():
                logits = sum(model(view).float() for view in views.of(x)) / views.count
            outputs.append(logits.cpu())
    finally:
        model.train(was_training)
    if not outputs:
        raise ValueError("predict_logits got no images")
    return torch.cat(outputs)


def tta_views(setting: TtaSetting, trained_params: dict[str, Any], variant: str) -> Views:
    """The views of `setting` that the model saw in training: only those help it.

    Measured here: flip TTA costs a model trained without flips (our MLP) about 9 points. A
    model trained on shifts of up to `crop_padding` pixels has seen every one-pixel shift.
    `trained_params` is the params.yaml the checkpoint records, so the rule follows the model.
    """
    augment, train = trained_params["augment"], trained_params["train"]
    override = trained_params["variants"][variant].get("batch_augment")
    batch_augment = train["batch_augment"] if override is None else override
    augmented = bool(batch_augment or augment["copies"] > 0)
    return Views(
        flip=setting != "none" and augmented and bool(augment["flip"]),
        shifts=setting == "shifts" and augmented and augment["crop_padding"] >= 1,
    )
