"""Stage `train@<variant>`: train one variant and keep its best checkpoint.

Runs alone or under `torchrun` (DistributedDataParallel); rank 0 alone logs and writes.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import torch
from dvclive import Live

from convnets import io
from convnets.checkpoint import Checkpoint, save_checkpoint
from convnets.complexity import count_parameters
from convnets.config import Params, VariantConfig
from convnets.data.prepared import channel_stats, load_prepared
from convnets.distributed import World, init_world
from convnets.errors import ConvnetsError
from convnets.layout import to_nchw
from convnets.models import create_model
from convnets.runtime import resolve_runtime, seed_everything
from convnets.stages.augment import settings_from
from convnets.training import EpochStats, FitResult, TrainSettings, fit
from convnets.versions import library_versions

log = logging.getLogger(__name__)
HELP = "train one variant, keeping the checkpoint with the best validation loss"


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--variant", required=True, help="a key of `variants` in params.yaml")
    parser.add_argument("--augmented", type=Path, required=True, help="augmented train .npz")
    parser.add_argument("--prepared", type=Path, required=True, help="prepared .npz (val split)")
    parser.add_argument("--checkpoint", type=Path, required=True, help="checkpoint to write")
    parser.add_argument("--live", type=Path, required=True, help="dvclive folder to write")
    parser.add_argument(
        "--timing", type=Path, required=True, help="wall-time JSON to write (not a metric)"
    )


def train_settings(params: Params, variant: VariantConfig) -> TrainSettings:
    """The shared `train` group with the variant's overrides applied."""
    t = params.train
    augment = t.batch_augment if variant.batch_augment is None else variant.batch_augment
    return TrainSettings(
        epochs=variant.epochs or t.epochs,
        batch_size=variant.batch_size or t.batch_size,
        lr=variant.lr or t.lr,
        optimizer=t.optimizer,
        momentum=t.momentum,
        weight_decay=t.weight_decay if variant.weight_decay is None else variant.weight_decay,
        schedule=t.schedule,
        warmup_fraction=t.warmup_fraction,
        label_smoothing=t.label_smoothing,
        patience=t.patience,
        batch_augment=settings_from(params.augment) if augment else None,
    )


def run(args: argparse.Namespace, params: Params) -> None:
    variant = params.variant(args.variant)
    settings = train_settings(params, variant)
    runtime = resolve_runtime(params.base.device, params.train.precision, params.base.threads)
    world = init_world(runtime.device)
    try:
        _train(args, params, variant, settings, runtime, world)
    finally:
        world.close()


def _train(args, params: Params, variant: VariantConfig, settings, runtime, world: World):
    seed_everything(params.base.seed, params.base.threads)
    data = load_prepared(args.prepared)
    augmented = io.load_npz(args.augmented, ("x_train", "y_train"), producer="augment")
    x_train, y_train = augmented["x_train"], augmented["y_train"]
    if x_train.shape[1:] != data.image_shape or len(x_train) != len(y_train):
        raise ConvnetsError(
            f"{args.augmented} holds images {x_train.shape[1:]} but {args.prepared} holds "
            f"{data.image_shape}. Fix: run `dvc repro augment`."
        )
    height, _, channels = data.image_shape
    model = create_model(variant.model, channels, len(data.classes), height, variant.options)
    mean, std = channel_stats(data.x_train)
    model.set_normalization(mean, std)
    log.info(
        "train %s: %s, %d parameters, %d training images, %s, %d rank(s)",
        args.variant,
        variant.model,
        count_parameters(model),
        len(y_train),
        runtime.describe(),
        world.size,
    )
    live = Live(str(args.live), dvcyaml=False, save_dvc_exp=False) if world.is_main else None
    result = fit(
        model,
        (to_nchw(x_train), torch.from_numpy(y_train)),
        (to_nchw(data.x_val), torch.from_numpy(data.y_val)),
        settings,
        runtime,
        world,
        params.base.seed,
        on_epoch=(lambda stats: _log_epoch(live, stats)) if live else (lambda stats: None),
    )
    if live is None:
        return
    metrics = _summary(result, model, runtime.describe(), world.size)
    ckpt = Checkpoint(
        variant=args.variant,
        model_name=variant.model,
        options=dict(variant.options),
        state_dict=result.best_state,
        classes=data.classes,
        input_shape=(channels, height, data.image_shape[1]),
        dataset=params.base.dataset,
        normalization={"mean": mean, "std": std},
        params=params.model_dump(mode="json"),
        versions=library_versions(),
        metrics=metrics,
    )
    save_checkpoint(args.checkpoint, ckpt)
    live.summary["best"] = metrics  # the kept checkpoint's numbers, beside the last epoch's
    live.end()
    io.write_json(args.timing, _timing(result))
    log.info(
        "train %s: best epoch %d, val loss %.4f, val accuracy %.4f, %.0f s",
        args.variant,
        result.best_epoch,
        result.best_val_loss,
        result.best_val_accuracy,
        result.seconds,
    )


def _log_epoch(live: Live, stats: EpochStats) -> None:
    live.log_metric("train/loss", stats.train_loss)
    live.log_metric("train/accuracy", stats.train_accuracy)
    live.log_metric("val/loss", stats.val_loss)
    live.log_metric("val/accuracy", stats.val_accuracy)
    live.log_metric("lr", stats.lr)
    live.next_step()


def _summary(result: FitResult, model, runtime: dict, ranks: int) -> dict:
    """The best checkpoint's numbers: the same on every run with the same params and data.

    Wall times go to `_timing` instead, so that metrics files, dvclive's per-step plots and the
    checkpoint stay bit-identical across `dvc repro --force` and `dvc exp show` compares results.
    """
    if result.best_epoch < 0:
        raise ConvnetsError("validation loss was never finite; no checkpoint to keep")
    return {
        "epoch": result.best_epoch,
        "val_loss": result.best_val_loss,
        "val_accuracy": result.best_val_accuracy,
        "epochs_run": len(result.history),
        "parameters": count_parameters(model),
        "ranks": ranks,
        **runtime,
    }


def _timing(result: FitResult) -> dict:
    """Wall time of the run and of each epoch: differs run to run, so it is not a metric."""
    rates = [s.images_per_second for s in result.history]
    return {
        "train_seconds": round(result.seconds, 2),
        "images_per_second": float(np.median(rates)),
        "epochs": [
            {"epoch": s.epoch, "seconds": s.seconds, "images_per_second": s.images_per_second}
            for s in result.history
        ],
    }
