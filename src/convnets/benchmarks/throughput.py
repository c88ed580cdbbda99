"""Training throughput: our path, its compute-only ceiling, and the pattern most tutorials teach.

Ours: the whole split as uint8 tensors in memory, batches sliced from a permutation and
augmented per image as `fit` does, channels_last, in the precision asked for. The ceiling: the
same model and precision stepping on one resident batch (no slicing, no augmentation), so
ours / ceiling is the share of a step the data path leaves to the model. Theirs: torchvision's
`FashionMNIST` with `ToTensor` + `Normalize`, a shuffling `DataLoader` (default single
process), fp32. Same model, batch size, thread count and number of timed steps after the same
warm-up. Timings on a shared machine are noisy, so the claims are ratios measured in one run.
"""

from __future__ import annotations

import os
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from convnets.data.augmentation import AugmentSettings, augment_batch
from convnets.runtime import Runtime
from convnets.training.loop import train_step
from convnets.training.speed import Throughput, resident_batch_rate, time_steps, trainable

# torchvision's FashionMNIST reads these uncompressed upstream files from <root>/FashionMNIST/raw.
_RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def ours(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    runtime: Runtime,
    batch_size: int,
    steps: int,
    warmup: int,
    augment: AugmentSettings | None = None,
) -> Throughput:
    """Slices of in-memory uint8 tensors, augmented as `fit` does, through its training step."""
    net, optimizer = trainable(model, runtime)
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(len(labels), generator=generator)

    def step(i: int) -> None:
        start = (i * batch_size) % (len(order) - batch_size + 1)
        index = order[start : start + batch_size]
        x = images[index]
        if augment is not None:
            x = augment_batch(x, augment, generator)
        train_step(net, optimizer, x, labels[index], runtime, 0.0)

    return time_steps(step, steps, warmup, batch_size)


def precision_table(
    fresh_model: Callable[[], nn.Module],
    images: torch.Tensor,
    labels: torch.Tensor,
    runtimes: dict[str, Runtime],
    batch_size: int,
    augment: AugmentSettings | None,
    steps: int,
    warmup: int,
    repeats: dict[str, int],
) -> dict:
    """Per precision: our path, the ceiling, and our share of it; then which precision is faster.

    Each measurement starts from the same fresh model, so only the precision differs. A shared
    machine's speed drifts by tens of percent within a minute, so ours and the ceiling alternate
    `repeats[precision]` times and the table keeps medians: the share is the median of the
    per-repeat shares, each from a pair measured back to back.
    """
    table: dict = {}
    for precision, runtime in runtimes.items():
        pairs = []
        for _ in range(repeats[precision]):
            path = ours(fresh_model(), images, labels, runtime, batch_size, steps, warmup, augment)
            top = resident_batch_rate(
                fresh_model(), images, labels, runtime, batch_size, steps, warmup
            )
            pairs.append((path.images_per_second, top.images_per_second))
        shares = [path / top for path, top in pairs]
        table[precision] = {
            "ours": statistics.median(path for path, _ in pairs),
            "ceiling": statistics.median(top for _, top in pairs),
            "share_of_ceiling": statistics.median(shares),
            "shares": shares,
            "repeats": len(pairs),
        }
    table["faster"] = max(runtimes, key=lambda precision: table[precision]["ours"])
    return table


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

        return time_steps(step, steps, warmup, batch_size)


def _link_raw_files(raw_dir: Path, target: Path) -> None:
    target.mkdir(parents=True)
    for name in _RAW_FILES:
        os.symlink((raw_dir / name).resolve(), target / name)
