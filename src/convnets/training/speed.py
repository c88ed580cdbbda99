"""How fast a training step runs: the timing that the precision probe and bench-train share.

The compute-only rate steps one model on one resident batch (nothing sliced, drawn or
augmented), so it measures the model's arithmetic in a precision and nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from convnets.runtime import Runtime
from convnets.training.loop import Objective, train_step


@dataclass(frozen=True)
class Throughput:
    images_per_second: float
    seconds: float
    steps: int


def trainable(model: nn.Module, runtime: Runtime) -> tuple[nn.Module, torch.optim.Optimizer]:
    """`model` laid out as training lays it out, wrapped with its loss, and an optimizer."""
    model.to(runtime.device, memory_format=torch.channels_last).train()
    return Objective(model), torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)


def resident_batch_rate(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    runtime: Runtime,
    batch_size: int,
    steps: int,
    warmup: int,
) -> Throughput:
    """Images/s of `model`'s training step on one resident batch of uint8 (B, C, H, W) images."""
    net, optimizer = trainable(model, runtime)
    x, y = images[:batch_size].contiguous(), labels[:batch_size].contiguous()
    return time_steps(
        lambda i: train_step(net, optimizer, x, y, runtime, 0.0), steps, warmup, batch_size
    )


def time_steps(
    step: Callable[[int], object], steps: int, warmup: int, batch_size: int
) -> Throughput:
    """Run `warmup` untimed steps, then time `steps` more."""
    for i in range(warmup):
        step(i)
    start = time.perf_counter()
    for i in range(warmup, warmup + steps):
        step(i)
    seconds = time.perf_counter() - start
    return Throughput(steps * batch_size / seconds, seconds, steps)
