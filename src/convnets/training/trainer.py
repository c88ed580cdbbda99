"""Train one variant from its recipe: the model, the precision, the loop, and what is kept of it.

The stage `train@<variant>` calls `train_variant`; `bench-train` builds models the same way with
`build_model`, so both normalize with the statistics of the training split. Both hand over a
`VariantRecipe` (the variant's settings, resolved by `config`), never the whole params.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from convnets.config import AugmentConfig, TrainConfig, VariantConfig, VariantRecipe
from convnets.data.augmentation import AugmentSettings
from convnets.data.prepared import PreparedData, channel_stats
from convnets.data.tensors import to_nchw
from convnets.errors import ConvnetsError
from convnets.models.base import ImageClassifier, probe_shape
from convnets.models.building import create_model
from convnets.models.checkpoint import Checkpoint
from convnets.models.complexity import count_parameters
from convnets.models.whitening import fit_whitening
from convnets.runtime import Runtime, machine, native_bf16
from convnets.training.distributed import World
from convnets.training.loop import EpochStats, FitResult, TrainSettings, fit
from convnets.training.precision import PrecisionChoice, cache_file, choose_precision, probe_key
from convnets.training.speed import resident_batch_rate
from convnets.versions import library_versions

log = logging.getLogger(__name__)


def train_settings(train: TrainConfig, augment: AugmentConfig) -> TrainSettings:
    """The loop's settings from a variant's resolved `train` group (`VariantRecipe.train`)."""
    return TrainSettings(
        epochs=train.epochs,
        batch_size=train.batch_size,
        lr=train.lr,
        optimizer=train.optimizer,
        momentum=train.momentum,
        weight_decay=train.weight_decay,
        schedule=train.schedule,
        warmup_fraction=train.warmup_fraction,
        label_smoothing=train.label_smoothing,
        patience=train.patience,
        batch_augment=AugmentSettings.from_config(augment) if train.batch_augment else None,
        progressive_sizes=tuple(train.progressive_sizes),
        bias_lr_scale=train.bias_lr_scale,
    )


def build_model(variant: VariantConfig, data: PreparedData) -> ImageClassifier:
    """A fresh model for the data's shape and classes, normalizing with the train split's stats
    (and its patch-whitening stem, if it has one, fitted to the train split)."""
    channels, height, _ = data.input_shape
    model = create_model(variant.model, channels, len(data.classes), height, variant.options)
    mean, std = channel_stats(data.x_train)
    model.set_normalization(mean, std)
    fit_whitening(model, data.x_train)
    return model


# The precision probe: enough steps to rank fp32 against bf16, a few seconds per model.
PROBE_STEPS = 8
PROBE_WARMUP = 3


def choose_runtime(
    recipe: VariantRecipe, data: PreparedData, device: torch.device, world: World
) -> tuple[Runtime, PrecisionChoice]:
    """The runtime the variant trains in: `train.precision`, with `auto` measured per model.

    Rank 0 decides and every rank follows, so DDP ranks never mix precisions.
    """
    variant, batch_size, threads = recipe.variant, recipe.train.batch_size, recipe.threads

    def measure(precision: str) -> float:
        with torch.random.fork_rng():  # measuring must not move training's random stream
            model = build_model(variant, data)
            images = to_nchw(data.x_train[:batch_size])
            labels = torch.from_numpy(data.y_train[:batch_size])
            runtime = Runtime(device, precision, threads)
            rate = resident_batch_rate(
                model, images, labels, runtime, len(labels), PROBE_STEPS, PROBE_WARMUP
            )
        return rate.images_per_second

    key = probe_key(
        machine() | {"device": str(device), "threads": threads},
        {"model": variant.model, "options": variant.options, "input": data.input_shape,
         "classes": len(data.classes), "batch_size": batch_size},
    )  # fmt: skip
    choice = None
    if world.is_main:
        choice = choose_precision(
            recipe.train.precision, native_bf16(device), key, measure, cache_file()
        )
    choice = world.from_main(choice)
    return Runtime(device, choice.precision, threads), choice


def check_sizes(
    model: ImageClassifier,
    name: str,
    model_name: str,
    sizes: tuple[int, ...],
    shape: tuple[int, int, int],
) -> None:
    """Refuse progressive sizes that variant `name`'s model (`model_name`) cannot take, before
    the first epoch rather than during one."""
    channels, full, _ = shape
    key = f"variants.{name}.progressive_sizes"
    for size in sorted(set(sizes)):
        if size > full:
            raise ConvnetsError(
                f"{key}: {size} is larger than the images ({full}x{full}); progressive resizing "
                f"trains early epochs on smaller images. Fix: sizes from 8 to {full}."
            )
        try:
            probe_shape(model, (channels, size, size))
        except RuntimeError as exc:
            raise ConvnetsError(
                f"{key}: model {model_name!r} cannot take {size}x{size} images "
                f"({str(exc).splitlines()[0]}): only models that pool globally (vgg, resnet) "
                f"accept other sizes than {full}x{full}. Fix: {key}=[] for this variant."
            ) from None


@dataclass(frozen=True)
class Trained:
    """What training keeps: the best checkpoint (on each machine's writing rank) and the history."""

    checkpoint: Checkpoint | None
    result: FitResult


def train_variant(
    recipe: VariantRecipe,
    data: PreparedData,
    train_split: tuple[np.ndarray, np.ndarray],
    runtime: Runtime,
    world: World,
    on_epoch: Callable[[EpochStats], None],
) -> Trained:
    """Train the variant on `train_split` (uint8 NHWC, labels), validating on `data`'s val."""
    name, variant = recipe.name, recipe.variant
    settings = train_settings(recipe.train, recipe.augment)
    model = build_model(variant, data)
    check_sizes(model, name, variant.model, settings.progressive_sizes, data.input_shape)
    x_train, y_train = train_split
    log.info(
        "train %s: %s, %d parameters, %d training images, %s, %d rank(s)",
        name, variant.model, count_parameters(model), len(y_train), runtime.describe(), world.size,
    )  # fmt: skip
    train = (to_nchw(x_train), torch.from_numpy(y_train))
    val = (to_nchw(data.x_val), torch.from_numpy(data.y_val))
    result = fit(model, train, val, settings, runtime, world, recipe.seed, on_epoch)
    if not world.writes:
        return Trained(None, result)
    if result.best_epoch < 0:
        raise ConvnetsError("validation loss was never finite; no checkpoint to keep")
    log.info(
        "train %s: best epoch %d, val loss %.4f, val accuracy %.4f, %.0f s",
        name, result.best_epoch, result.best_val_loss, result.best_val_accuracy, result.seconds,
    )  # fmt: skip
    metrics = summary(result, count_parameters(model), runtime, world.size)
    return Trained(best_checkpoint(recipe, data, result.best_state, metrics), result)


def best_checkpoint(
    recipe: VariantRecipe, data: PreparedData, state: dict[str, torch.Tensor], metrics: dict
) -> Checkpoint:
    """The kept weights with everything a later stage needs to rebuild and use them (model,
    options, classes, input shape, normalization), so that none of them re-reads params."""
    return Checkpoint(
        variant=recipe.name,
        model_name=recipe.variant.model,
        options=dict(recipe.variant.options),
        state_dict=state,
        classes=data.classes,
        input_shape=data.input_shape,
        dataset=data.dataset,
        normalization=dict(zip(("mean", "std"), channel_stats(data.x_train), strict=True)),
        params=recipe.provenance,
        versions=library_versions(),
        metrics=metrics,
    )


def summary(result: FitResult, parameters: int, runtime: Runtime, ranks: int) -> dict:
    """The best checkpoint's numbers: the same on every run with the same params and data.

    Wall times go to `timing` instead, so that metrics files, dvclive's per-step plots and the
    checkpoint stay bit-identical across `dvc repro --force` and `dvc exp show` compares results.
    """
    return {
        "epoch": result.best_epoch,
        "val_loss": result.best_val_loss,
        "val_accuracy": result.best_val_accuracy,
        "epochs_run": len(result.history),
        "parameters": parameters,
        "ranks": ranks,
        **runtime.describe(),
    }


def timing(result: FitResult) -> dict:
    """Wall time of the run and of each epoch: differs run to run, so it is not a metric."""
    rates = [s.images_per_second for s in result.history]
    return {
        "train_seconds": round(result.seconds, 2),
        "images_per_second": float(np.median(rates)),
        "epochs": [
            {
                "epoch": s.epoch,
                "image_size": s.image_size,
                "seconds": s.seconds,
                "images_per_second": s.images_per_second,
            }
            for s in result.history
        ],
    }


def log_epoch(live, stats: EpochStats) -> None:
    """One epoch's figures to dvclive (`live`, a `dvclive.Live`: the train stage's), one step."""
    for key, value in stats.logged().items():
        live.log_metric(key, value)
    live.next_step()
