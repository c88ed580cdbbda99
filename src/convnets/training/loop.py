"""The training loop: train an epoch, validate, keep the best weights, maybe stop early.

Read it top to bottom (after nanoGPT's train.py): the data are whole tensors in memory and each
batch is a slice of a seeded permutation rather than a per-sample DataLoader (`convnets
bench-train` measures the two against each other on the machine at hand). Under `torchrun` each
rank trains on its shard of every epoch's permutation (DistributedDataParallel), and rank 0 alone
writes.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from convnets.data.augmentation import AugmentSettings, augment_batch
from convnets.errors import ConvnetsError
from convnets.evaluation.inference import predict_logits
from convnets.evaluation.metrics import loss_and_accuracy
from convnets.models.base import ImageClassifier
from convnets.runtime import Runtime
from convnets.training.distributed import World

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainSettings:
    epochs: int
    batch_size: int  # images per optimizer step, summed over ranks
    lr: float  # peak learning rate
    optimizer: Literal["sgd", "adamw"]
    momentum: float  # SGD momentum (Nesterov) or AdamW beta1
    weight_decay: float
    schedule: Literal["onecycle", "cosine"]
    warmup_fraction: float  # share of all steps spent warming up (onecycle)
    label_smoothing: float
    patience: int  # epochs without a better validation loss before stopping; 0 = never
    batch_augment: AugmentSettings | None  # fresh random augmentation of every batch, or none
    progressive_sizes: tuple[int, ...] = ()  # image size of each early epoch; then full size
    bias_lr_scale: float = 1.0  # learning rate of biases and BatchNorm parameters, times lr

    def image_size(self, epoch: int) -> int | None:
        """The size epoch `epoch` (from 1) trains at, or None for the images' own size."""
        sizes = self.progressive_sizes
        return sizes[epoch - 1] if epoch <= len(sizes) else None


@dataclass
class EpochStats:
    epoch: int
    lr: float
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    seconds: float
    images_per_second: float
    image_size: int  # the height and width this epoch trained at


@dataclass
class FitResult:
    best_state: dict[str, torch.Tensor]
    best_epoch: int
    best_val_loss: float
    best_val_accuracy: float
    history: list[EpochStats] = field(default_factory=list)
    seconds: float = 0.0


def make_optimizer(model: nn.Module, s: TrainSettings) -> torch.optim.Optimizer:
    """No weight decay on biases and BatchNorm weights: decaying them only hurts. They may take
    larger steps (`bias_lr_scale`): a shift or a scale has far fewer inputs than a weight matrix,
    so the same rate moves it slowly (airbench trains them at 64x). Frozen parameters (a
    patch-whitening stem) are left out."""
    trained = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in trained if p.ndim > 1]
    no_decay = [p for p in trained if p.ndim <= 1]
    groups = [
        {"params": decay, "weight_decay": s.weight_decay},
        {"params": no_decay, "weight_decay": 0.0, "lr": s.lr * s.bias_lr_scale},
    ]
    if s.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=s.lr, momentum=s.momentum, nesterov=s.momentum > 0)
    return torch.optim.AdamW(groups, lr=s.lr, betas=(s.momentum, 0.999))


def lr_factor(step: int, total: int, s: TrainSettings) -> float:
    """The learning rate at `step` as a fraction of the peak `s.lr`.

    onecycle: linear warm-up from 1/10 of the peak, then linear decay to 1/1000 of it (Smith &
    Topin's one-cycle, without momentum cycling). cosine: half a cosine from the peak to 0.
    Both are defined for any number of steps, a one-step smoke run included.
    """
    if s.schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * step / total))
    warmup = max(1, round(total * s.warmup_fraction))
    if step < warmup:
        return 0.1 + 0.9 * step / warmup
    remaining = 1.0 - (step - warmup) / max(1, total - warmup)
    return 0.001 + 0.999 * max(0.0, remaining)


def make_scheduler(opt: torch.optim.Optimizer, s: TrainSettings, steps_per_epoch: int):
    total = s.epochs * steps_per_epoch
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda step: lr_factor(step, total, s))


class Objective(nn.Module):
    """The model's own training loss as a module: what DDP wraps, so it sees the forward call.

    DistributedDataParallel syncs gradients only for work done inside its forward, and the loss
    (margin loss and a decoder, for capsnet) is the model's `objective`, not a plain `model(x)`.
    """

    def __init__(self, model: ImageClassifier):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, labels: torch.Tensor, label_smoothing: float):
        return self.model.objective(x, labels, label_smoothing)  # (loss, scores)


def fit(
    model: ImageClassifier,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    settings: TrainSettings,
    runtime: Runtime,
    world: World,
    seed: int,
    on_epoch: Callable[[EpochStats], None] = lambda stats: None,
) -> FitResult:
    """Train `model` on uint8 images (N, C, H, W) and int64 labels; return the best weights."""
    model.to(runtime.device, memory_format=torch.channels_last)
    net = world.wrap(Objective(model))
    optimizer = make_optimizer(model, settings)
    per_rank_batch = max(1, settings.batch_size // world.size)
    shard = len(train[1]) // world.size
    steps = math.ceil(shard / per_rank_batch)
    scheduler = make_scheduler(optimizer, settings, steps)
    generator = torch.Generator().manual_seed(seed)  # batch order and batch augmentation
    result = FitResult({}, -1, math.inf, 0.0)
    start = time.perf_counter()
    for epoch in range(1, settings.epochs + 1):
        lr = optimizer.param_groups[0]["lr"]
        tick = time.perf_counter()
        size = settings.image_size(epoch)
        train_loss, train_acc, seen = _train_epoch(
            net, optimizer, scheduler, train, settings, runtime, world, generator, epoch, size
        )
        seconds = time.perf_counter() - tick
        val_scores = predict_logits(model, val[0], runtime)
        val_loss, val_acc = loss_and_accuracy(val_scores, val[1], model.score_loss)
        stats = EpochStats(
            epoch,
            lr,
            train_loss,
            train_acc,
            val_loss,
            val_acc,
            seconds,
            seen * world.size / seconds,
            size or train[0].shape[-1],
        )
        result.history.append(stats)
        on_epoch(stats)
        log.info(
            "epoch %d/%d (%dx%d): train loss %.4f acc %.4f | val loss %.4f acc %.4f | %.1fs, "
            "%.0f img/s",
            epoch,
            settings.epochs,
            stats.image_size,
            stats.image_size,
            train_loss,
            train_acc,
            val_loss,
            val_acc,
            seconds,
            stats.images_per_second,
        )
        if val_loss < result.best_val_loss:
            result.best_state = copy.deepcopy(model.state_dict())
            result.best_epoch, result.best_val_loss, result.best_val_accuracy = (
                epoch,
                val_loss,
                val_acc,
            )
        elif settings.patience and epoch - result.best_epoch >= settings.patience:
            log.info("no better validation loss for %d epochs: stopping", settings.patience)
            break
    result.seconds = time.perf_counter() - start
    return result


def train_step(
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    images: torch.Tensor,
    labels: torch.Tensor,
    runtime: Runtime,
    label_smoothing: float,
    size: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimizer step on uint8 images (B, C, H, W); returns the loss and the scores.

    `net` is an `Objective` (DDP-wrapped on several ranks), so the loss is the model's own.
    With `size`, the step trains on the images shrunk to size x size (progressive resizing).
    """
    x = runtime.to_input(images)  # (B, C, H, W) float in [0, 1], channels_last
    if size is not None:
        x = shrink(x, size)
    with runtime.autocast():
        loss, scores = net(x, labels, label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss, scores


def shrink(x: torch.Tensor, size: int) -> torch.Tensor:
    """Float images resized to size x size, antialiased, as a smaller camera would see them.

    Progressive resizing (fast.ai's DAWNBench recipe; Tan & Le's EfficientNetV2): early epochs
    learn coarse shapes from small images at a fraction of the cost, since a conv's work scales
    with the pixels; the last epochs at full size adapt the model to the size it is tested at.
    Only models that pool globally accept other sizes (vgg, resnet).
    """
    out = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return out.contiguous(memory_format=torch.channels_last)


def _train_epoch(
    net, optimizer, scheduler, train, settings, runtime, world, generator, epoch, size
):
    """One pass over this rank's shard of a fresh permutation; returns mean loss, acc, images."""
    images, labels = train
    net.train()
    order = torch.randperm(len(labels), generator=generator)
    shard = order[world.rank :: world.size][: len(labels) // world.size]
    per_rank_batch = max(1, settings.batch_size // world.size)
    loss_sum = torch.zeros((), device=runtime.device)
    correct = torch.zeros((), device=runtime.device, dtype=torch.long)
    bar = tqdm(
        range(0, len(shard), per_rank_batch),
        desc=f"epoch {epoch}",
        leave=False,
        disable=None if world.is_main else True,
    )
    for start in bar:
        index = shard[start : start + per_rank_batch]
        x_uint8 = images[index]
        if settings.batch_augment is not None:
            x_uint8 = augment_batch(x_uint8, settings.batch_augment, generator)
        y = labels[index].to(runtime.device, non_blocking=True)
        loss, scores = train_step(
            net, optimizer, x_uint8, y, runtime, settings.label_smoothing, size
        )
        scheduler.step()
        loss_sum += loss.detach() * len(index)
        correct += (scores.argmax(dim=1) == y).sum()
    seen = len(shard)
    mean_loss = loss_sum.item() / seen  # .item() is the epoch's only host sync
    if not math.isfinite(mean_loss):
        raise ConvnetsError(
            f"training loss became {mean_loss} in epoch {epoch}. The usual cause is a learning "
            f"rate too high for this model ({settings.lr}). Fix: lower train.lr (or the "
            f"variant's lr) and rerun."
        )
    return mean_loss, correct.item() / seen, seen
