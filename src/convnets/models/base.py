"""What every model shares: input normalization, a feature extractor and a classifier head."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from convnets.errors import ConvnetsError


class ImageClassifier(nn.Module):
    """`head(features(normalize(x)))` for float images in [0, 1], shape (N, C, H, W).

    Normalization lives in the model as buffers, so a checkpoint or ONNX file carries it and no
    caller can get it wrong. `features` ends in the penultimate vector (N, D) that the report
    projects to 2-D.

    The training loss is part of the model (`objective`), not of the loop, so a model with its
    own loss (capsnet's margin loss) needs no special case there. `score_kind` says what the
    scores are: logits (softmax gives probabilities) or capsule lengths (already in [0, 1)).
    """

    score_kind: Literal["logits", "capsule_lengths"] = "logits"

    def __init__(self, features: nn.Module, head: nn.Module, in_channels: int):
        super().__init__()
        self.features = features
        self.head = head
        self.register_buffer("mean", torch.zeros(1, in_channels, 1, 1))
        self.register_buffer("std", torch.ones(1, in_channels, 1, 1))

    def set_normalization(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self.mean.copy_(torch.tensor(mean).view_as(self.mean))
        self.std.copy_(torch.tensor(std).clamp_min(1e-6).view_as(self.std))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features((x - self.mean) / self.std))

    def objective(
        self, x: torch.Tensor, labels: torch.Tensor, label_smoothing: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The training loss and the scores (N, classes) for images x in [0, 1] (N, C, H, W)."""
        scores = self(x)
        loss = F.cross_entropy(scores.float(), labels, label_smoothing=label_smoothing)
        return loss, scores

    def score_loss(self, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The plain loss of given scores, without smoothing: comparable across recipes."""
        return F.cross_entropy(scores.float(), labels)


def feature_shape(module: nn.Module, in_channels: int, image_size: int, name: str) -> torch.Size:
    """The output shape of `module` for one image, with a clear error if the input is too small.

    This is how layer sizes derive from the input shape instead of constants like 9216.
    """
    try:
        shape = probe_shape(module, (in_channels, image_size, image_size))
    except RuntimeError as exc:
        raise ConvnetsError(
            f"model {name!r}: its options shrink a {in_channels}x{image_size}x{image_size} input "
            f"to nothing ({str(exc).splitlines()[0]}). Fix: fewer stages, smaller stride or "
            f"kernel, or more padding in variants.<name>.options."
        ) from None
    if 0 in shape:
        raise ConvnetsError(
            f"model {name!r}: its options shrink a {image_size}x{image_size} input to "
            f"{tuple(shape)}. Fix: fewer stages, smaller stride or kernel, or more padding."
        )
    return shape


def conv_bn_relu(c_in: int, c_out: int, kernel: int = 3, stride: int = 1, padding: int = 1):
    """The workhorse 3x3 block; no conv bias, since BatchNorm's shift replaces it."""
    return [
        nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]


def probe_shape(module: nn.Module, input_shape: tuple[int, int, int]) -> torch.Size:
    """The output shape of `module` for one zero image of (C, H, W); RuntimeError if it cannot
    take that shape. Runs in eval mode (one image would upset BatchNorm's batch statistics) and
    leaves the module in the mode it found it in."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            return module(torch.zeros(1, *input_shape)).shape[1:]
    finally:
        module.train(was_training)
