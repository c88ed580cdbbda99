"""How big and how costly a model is: parameters and FLOPs per image."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def flops_per_image(model: nn.Module, input_shape: tuple[int, int, int]) -> int:
    """Floating-point operations of one forward pass on one (C, H, W) image, counted, not timed.

    torch's FlopCounterMode counts a multiply-add as 2 FLOPs (convolutions, matmuls); cheap
    element-wise ops are not counted.
    """
    was_training = model.training
    model.eval()
    try:
        with FlopCounterMode(display=False) as counter:
            model(torch.zeros(1, *input_shape))
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())
