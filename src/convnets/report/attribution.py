"""Which input pixels a prediction depends on, with captum: plain gradients (saliency,
Simonyan et al. 2014) and Grad-CAM on the last spatial convolution (Selvaraju et al. 2017).

Both take float images (N, C, H, W) in [0, 1] and return one (N, H, W) map per image, scaled to
[0, 1] per image, ready to draw over the picture.
"""

from __future__ import annotations

import numpy as np
import torch
from captum.attr import LayerAttribution, LayerGradCam, Saliency
from torch import nn


def saliency(model: nn.Module, x: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
    """|d score / d pixel|, the largest over colour channels."""
    grads = Saliency(model.eval()).attribute(x.clone().requires_grad_(True), target=targets)
    return _unit_scale(grads.abs().amax(dim=1))


def grad_cam(
    model: nn.Module, layer: nn.Module, x: torch.Tensor, targets: torch.Tensor
) -> np.ndarray:
    """The layer's channels weighted by their mean gradient, ReLU'd, upsampled to the input."""
    cam = LayerGradCam(model.eval(), layer).attribute(x, target=targets, relu_attributions=True)
    upsampled = LayerAttribution.interpolate(cam, tuple(x.shape[-2:]), "bilinear")
    return _unit_scale(upsampled[:, 0])


def _unit_scale(maps: torch.Tensor) -> np.ndarray:
    """Each (H, W) map divided by its own maximum (an all-zero map stays zero)."""
    maps = maps.detach().float()
    peak = maps.flatten(1).amax(dim=1).clamp_min(1e-12)
    return (maps / peak[:, None, None]).numpy()
