"""Which input pixels a prediction depends on, with captum: plain gradients (saliency,
Simonyan et al. 2014), SmoothGrad (the gradient averaged over noisy copies, Smilkov et al. 2017),
Integrated Gradients (Sundararajan et al. 2017) and Grad-CAM on the last spatial convolution
(Selvaraju et al. 2017); and, as the control that report/sanity.py must fail, a Sobel edge map
that never looks at the model.

All take float images (N, C, H, W) in [0, 1] and return one (N, H, W) map per image, scaled to
[0, 1] per image, ready to draw over the picture.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from captum.attr import (
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    NoiseTunnel,
    Saliency,
)
from torch import nn


def saliency(model: nn.Module, x: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
    """|d score / d pixel|, the largest over colour channels."""
    grads = Saliency(model.eval()).attribute(x.clone().requires_grad_(True), target=targets)
    return _unit_scale(grads.abs().amax(dim=1))


def smoothgrad(
    model: nn.Module,
    x: torch.Tensor,
    targets: torch.Tensor,
    samples: int = 16,
    noise: float = 0.15,
    seed: int = 0,
) -> np.ndarray:
    """|mean gradient over `samples` copies with Gaussian noise|; `noise` is the noise's standard
    deviation as a fraction of the [0, 1] pixel range (Smilkov et al. find 10-20% best). Seeded,
    so the same inputs give the same map."""
    tunnel = NoiseTunnel(Saliency(model.eval()))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        grads = tunnel.attribute(
            x.clone().requires_grad_(True),
            nt_type="smoothgrad",
            nt_samples=samples,
            stdevs=noise,
            target=targets,
            abs=False,
        )
    return _unit_scale(grads.abs().amax(dim=1))


def integrated_gradients(
    model: nn.Module, x: torch.Tensor, targets: torch.Tensor, steps: int = 16
) -> np.ndarray:
    """|attribution| summed over channels, from a black image (the background of these data)."""
    attributions = IntegratedGradients(model.eval()).attribute(
        x, baselines=torch.zeros_like(x), target=targets, n_steps=steps
    )
    return _unit_scale(attributions.abs().sum(dim=1))


def edge_map(_model: nn.Module, x: torch.Tensor, _targets: torch.Tensor) -> np.ndarray:
    """Sobel gradient magnitude of the image: looks like an explanation, ignores the model."""
    gx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    kernels = torch.stack([gx, gx.T])[:, None]  # (2, 1, 3, 3)
    gray = x.detach().float().mean(dim=1, keepdim=True)
    edges = F.conv2d(F.pad(gray, (1, 1, 1, 1), mode="replicate"), kernels)
    return _unit_scale(edges.pow(2).sum(dim=1).sqrt())


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
