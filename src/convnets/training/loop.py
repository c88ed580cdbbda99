"""The training loop: train an epoch, validate, keep the best weights, maybe stop early.

Read it top to bottom (after nanoGPT's train.py): the data are whole tensors in memory and each
batch is a slice of a seeded permutation rather than a per-sample DataLoader (`convnets
bench-train` measures the two against each other on the machine at hand). With several
processes (`train.processes`, `train.nodes` or torchrun) each rank trains on its shard of every
epoch's permutation (DistributedDataParallel), and the epoch's figures add up over the ranks.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable, Iterator
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

    def logged(self) -> dict[str, float]:
        """What dvclive logs each epoch (train/ and val/ loss and accuracy, the learning rate):
        the same on every run with the same params and data, unlike the wall times."""
        keys = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")
        return {key.replace("_", "/", 1): getattr(self, key) for key in keys} | {"lr": self.lr}


@dataclass
class FitResult:
    best_state: dict[str, torch.Tensor]
    best_epoch: int
    best_val_loss: float
    best_val_accuracy: float
    history: list[EpochStats] = field(default_factory=list)
    seconds: float = 0.0

    def keep(self, model: nn.Module, stats: EpochStats) -> None:
        """Keep `model`'s weights as the best so far: a copy, as training goes on changing them."""
        self.best_state = copy.deepcopy(model.state_dict())
        self.best_epoch = stats.epoch
        self.best_val_loss, self.best_val_accuracy = stats.val_loss, stats.val_accuracy


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
    """Train `model` on uint8 images (N, C, H, W) and int64 labels; return the best weights.

    Each epoch trains one pass and validates; the weights of the lowest validation loss are kept,
    and `patience` epochs without a lower one end the run early.
    """
    run = start_run(model, train, val, settings, runtime, world, seed)
    result = FitResult({}, -1, math.inf, 0.0)
    start = time.perf_counter()
    for epoch in range(1, settings.epochs + 1):
        stats = train_and_validate(run, epoch)
        result.history.append(stats)
        on_epoch(stats)
        log_epoch(stats, settings.epochs)
        if stats.val_loss < result.best_val_loss:
            result.keep(model, stats)
        elif settings.patience and epoch - result.best_epoch >= settings.patience:
            log.info("no better validation loss for %d epochs: stopping", settings.patience)
            break
    result.seconds = time.perf_counter() - start
    return result


@dataclass(frozen=True)
class TrainingRun:
    """What the parts of one `fit` call share, made once by `start_run`.

    Each helper takes this one object rather than a row of arguments, and a reader sees in one
    place what a run holds. No field is rebound during the run; the objects change in place
    (the weights, the optimizer's state, the generator's position).
    """

    model: ImageClassifier  # the weights that are validated and kept
    net: nn.Module  # what steps: the model's objective, DDP-wrapped on several ranks
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR  # steps once per batch
    generator: torch.Generator  # the one random stream of batch order and batch augmentation
    train: tuple[torch.Tensor, torch.Tensor]  # uint8 (N, C, H, W) and int64 (N,), on the CPU
    val: tuple[torch.Tensor, torch.Tensor]  # the same, for validation
    settings: TrainSettings
    runtime: Runtime  # device, precision (bf16 autocast or fp32), threads
    world: World  # this rank among all of them
    batch_size: int  # images per step on this rank: the global batch shared out over ranks


def start_run(
    model: ImageClassifier,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    settings: TrainSettings,
    runtime: Runtime,
    world: World,
    seed: int,
) -> TrainingRun:
    """Lay the model out on its device, wrap it, and make its optimizer, schedule and generator.

    The order matters: DDP wraps the model once it is on its device, and the scheduler, made
    after the optimizer, sets the first step's learning rate on it.
    """
    model.to(runtime.device, memory_format=torch.channels_last)
    net = world.wrap(Objective(model))
    optimizer = make_optimizer(model, settings)
    batch_size = max(1, settings.batch_size // world.size)
    steps_per_epoch = math.ceil(len(train[1]) // world.size / batch_size)
    scheduler = make_scheduler(optimizer, settings, steps_per_epoch)
    generator = torch.Generator().manual_seed(seed)
    return TrainingRun(
        model=model,
        net=net,
        optimizer=optimizer,
        scheduler=scheduler,
        generator=generator,
        train=train,
        val=val,
        settings=settings,
        runtime=runtime,
        world=world,
        batch_size=batch_size,
    )


def train_and_validate(run: TrainingRun, epoch: int) -> EpochStats:
    """Train epoch `epoch` (from 1), then validate: one row of the run's history.

    `lr` is the rate the epoch starts at (the scheduler moves it every step); images/s counts
    every rank's images against this rank's wall time.
    """
    lr = run.optimizer.param_groups[0]["lr"]
    tick = time.perf_counter()
    train_loss, train_accuracy, seen = train_epoch(run, epoch)
    seconds = time.perf_counter() - tick
    run.world.share_buffers(run.model)
    val_loss, val_accuracy = validate(run)
    return EpochStats(
        epoch=epoch,
        lr=lr,
        train_loss=train_loss,
        train_accuracy=train_accuracy,
        val_loss=val_loss,
        val_accuracy=val_accuracy,
        seconds=seconds,
        images_per_second=seen * run.world.size / seconds,
        image_size=run.settings.image_size(epoch) or run.train[0].shape[-1],
    )


def train_epoch(run: TrainingRun, epoch: int) -> tuple[float, float, int]:
    """One pass over this rank's shard of a fresh permutation: the mean loss and accuracy over
    every rank's images, and the images this rank saw.

    Loss and correct answers add up on the device, so steps queue without waiting for the host.
    """
    run.net.train()
    shard = epoch_shard(run)
    size = run.settings.image_size(epoch)  # None: the images' own size
    loss_sum = torch.zeros((), device=run.runtime.device)
    correct = torch.zeros((), device=run.runtime.device, dtype=torch.long)
    for images, labels in batches(run, shard, epoch):
        loss, scores = train_step(
            run.net, run.optimizer, images, labels, run.runtime, run.settings.label_smoothing, size
        )
        run.scheduler.step()
        loss_sum += loss.detach() * len(labels)
        correct += (scores.argmax(dim=1) == labels).sum()
    # Every rank's shard counts, so all ranks log the same figures; .item() is the only host sync.
    seen = run.world.size * len(shard)
    mean_loss = run.world.total(loss_sum).item() / seen
    check_finite(mean_loss, epoch, run.settings.lr)
    return mean_loss, run.world.total(correct).item() / seen, len(shard)


def epoch_shard(run: TrainingRun) -> torch.Tensor:
    """This rank's image indices for one epoch: its slice of a fresh seeded permutation.

    Every rank draws the same permutation and takes every `size`-th index from its own rank on,
    cut to an equal share: ranks never see the same image in an epoch, and all take the same
    number of steps (DDP syncs at each one).
    """
    count = len(run.train[1])
    order = torch.randperm(count, generator=run.generator)
    return order[run.world.rank :: run.world.size][: count // run.world.size]


def batches(
    run: TrainingRun, shard: torch.Tensor, epoch: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The shard's batches: uint8 images (B, C, H, W) on the CPU, re-augmented if the settings
    say so, and their labels on the device. Rank 0 alone shows a progress bar."""
    images, labels = run.train
    starts = range(0, len(shard), run.batch_size)
    hidden = None if run.world.is_main else True  # None: shown on a terminal only
    for start in tqdm(starts, desc=f"epoch {epoch}", leave=False, disable=hidden):
        index = shard[start : start + run.batch_size]
        batch = images[index]
        if run.settings.batch_augment is not None:
            batch = augment_batch(batch, run.settings.batch_augment, run.generator)
        yield batch, labels[index].to(run.runtime.device, non_blocking=True)


def validate(run: TrainingRun) -> tuple[float, float]:
    """The model's plain loss and accuracy on the validation split (evaluation mode)."""
    images, labels = run.val
    scores = predict_logits(run.model, images, run.runtime)  # (N, classes)
    return loss_and_accuracy(scores, labels, run.model.score_loss)


def check_finite(loss: float, epoch: int, lr: float) -> None:
    """Stop at an epoch whose mean loss is NaN or infinite, naming the usual cause: the weights
    are lost by then, and every later epoch would only spend time."""
    if not math.isfinite(loss):
        raise ConvnetsError(
            f"training loss became {loss} in epoch {epoch}. The usual cause is a learning "
            f"rate too high for this model ({lr}). Fix: lower train.lr (or the "
            f"variant's lr) and rerun."
        )


def log_epoch(stats: EpochStats, epochs: int) -> None:
    log.info(
        "epoch %d/%d (%dx%d): train loss %.4f acc %.4f | val loss %.4f acc %.4f | %.1fs, "
        "%.0f img/s",
        stats.epoch,
        epochs,
        stats.image_size,
        stats.image_size,
        stats.train_loss,
        stats.train_accuracy,
        stats.val_loss,
        stats.val_accuracy,
        stats.seconds,
        stats.images_per_second,
    )


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
