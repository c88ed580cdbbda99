"""Patch whitening: a first conv whose filters decorrelate the training images' pixel patches.

Neighbouring pixels are strongly correlated, so a randomly initialised first layer spends its
first epochs learning what the data's covariance already says. Computing it instead (PCA of
every k x k patch, each component scaled to unit variance; after tysam-code's hlb-CIFAR10 and
Keller Jordan's airbench) hands the next layer decorrelated inputs from the first step. Each
component goes in with both signs, so the ReLU after BatchNorm keeps both halves of it. The
layer stays frozen, and must be a model's first layer (the one that sees normalized images).
Part of the VGG recipe that gained half a point of test accuracy at the same cost (README:
Results); the price is robustness: photo-like images lost 3.6 points (README: Photos).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from convnets.data.tensors import to_nchw, to_unit_float

EPSILON = 1e-2  # added to each component's variance: keeps the faintest ones from exploding
# A direction the patches never vary in (grey pictures as RGB: R - G is always 0) gets a zero
# filter rather than its rounding noise over sqrt(eps): bf16 would turn that noise into a
# signal the model learns and fp32 does not have (a VGG at 88% in bf16 scored 33% in fp32).
NULL_VARIANCE = 1e-9  # of the largest component's variance: only exact degeneracy
SAMPLE = 5000  # training images whose patches set the filters: plenty for a 9x9 covariance


class PatchWhitening(nn.Conv2d):
    """A bias-free conv whose weights `fit` sets from images, then frozen (never trained)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, padding: int = 1):
        super().__init__(in_channels, out_channels, kernel_size, padding=padding, bias=False)
        self.weight.requires_grad_(False)

    @torch.no_grad()
    def fit(self, images: torch.Tensor) -> None:
        """Set the weights from normalized float images (N, C, H, W).

        The first filters are the whitening filters, strongest component first, then the same
        negated; filters beyond those keep their random initialisation (also frozen).
        """
        filters = whitening_filters(images, self.kernel_size[0])
        both = torch.cat([filters, -filters])[: self.out_channels]
        self.weight[: len(both)] = both.to(self.weight)


def whitening_filters(images: torch.Tensor, kernel: int) -> torch.Tensor:
    """(C*k*k, C, k, k) filters: the patches' principal directions over sqrt(variance + eps)."""
    channels = images.shape[1]
    patches = F.unfold(images.double(), kernel).transpose(1, 2).reshape(-1, channels * kernel**2)
    variances, directions = torch.linalg.eigh(torch.cov(patches.T))  # ascending variance
    order = variances.argsort(descending=True)
    scaled = directions[:, order] / (variances[order] + EPSILON).sqrt()
    scaled[:, variances[order] <= NULL_VARIANCE * variances.max()] = 0.0
    return scaled.T.float().reshape(-1, channels, kernel, kernel)


def fit_whitening(model: nn.Module, train_images: np.ndarray) -> None:
    """Fit every `PatchWhitening` layer of `model` to the first `SAMPLE` training images.

    `train_images` are uint8 (N, H, W, C), normalized here as the model's input is (its `mean`
    and `std` buffers), since the first layer sees them that way. A model without such a layer
    is left as it is, and nothing is converted for it.
    """
    layers = [m for m in model.modules() if isinstance(m, PatchWhitening)]
    if not layers:
        return
    x = to_unit_float(to_nchw(train_images[:SAMPLE]))
    x = (x - model.mean) / model.std
    for layer in layers:
        layer.fit(x)
