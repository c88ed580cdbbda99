"""Training throughput: our path against the pattern most tutorials teach, in one run.

Ours: the whole split as uint8 tensors in memory, batches sliced from a permutation,
channels_last, bf16 autocast where the CPU has it. Theirs: torchvision's `FashionMNIST` with
`ToTensor` + `Normalize`, a shuffling `DataLoader` (default single process), fp32. Same model,
same batch size, same thread count, same number of timed steps after the same warm-up; only the
model call, backward and step differ in how their inputs arrive. Timings on a shared machine are
noisy, so the claim is the ratio measured within one run.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from convnets.runtime import Runtime
from convnets.training.loop import Objective, train_step

# torchvision's FashionMNIST reads these uncompressed upstream files from <root>/FashionMNIST/raw.
_RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@dataclass(frozen=True)
class Throughput:
    images_per_second: float
    seconds: float
    steps: int


def ours(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    runtime: Runtime,
    batch_size: int,
    steps: int,
    warmup: int,
) -> Throughput:
    """Slices of in-memory uint8 tensors through the training step the pipeline uses."""
    model.to(runtime.device, memory_format=torch.channels_last).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    net = Objective(model)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))

    def step(i: int) -> None:
        start = (i * batch_size) % (len(order) - batch_size + 1)
        index = order[start : start + batch_size]
        train_step(net, optimizer, images[index], labels[index], runtime, 0.0)

    return _time(step, steps, warmup, batch_size)


def theirs(
    model: nn.Module,
    raw_dir: Path,
    mean: float,
    std: float,
    batch_size: int,
    steps: int,
    warmup: int,
) -> Throughput:
    """The tutorial pattern: a per-sample Dataset, ToTensor/Normalize, DataLoader, fp32."""
    from torchvision import datasets, transforms

    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((mean,), (std,))])
    with tempfile.TemporaryDirectory() as root:
        _link_raw_files(raw_dir, Path(root) / "FashionMNIST" / "raw")
        dataset = datasets.FashionMNIST(root, train=True, download=False, transform=transform)
        loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True)
        batches = iter(loader)

        def step(_: int) -> None:
            nonlocal batches
            try:
                x, y = next(batches)
            except StopIteration:
                batches = iter(loader)
                x, y = next(batches)
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        return _time(step, steps, warmup, batch_size)


def _link_raw_files(raw_dir: Path, target: Path) -> None:
    target.mkdir(parents=True)
    for name in _RAW_FILES:
        os.symlink((raw_dir / name).resolve(), target / name)


def _time(step, steps: int, warmup: int, batch_size: int) -> Throughput:
    for i in range(warmup):
        step(i)
    start = time.perf_counter()
    for i in range(warmup, warmup + steps):
        step(i)
    seconds = time.perf_counter() - start
    return Throughput(steps * batch_size / seconds, seconds, steps)
