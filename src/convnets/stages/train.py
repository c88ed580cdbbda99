"""Stage `train@<variant>`: train one variant and keep its best checkpoint; with
`train.processes` or `train.nodes` above 1, in workers it launches (or under torchrun)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from dvclive import Live

from convnets import io
from convnets.config import Params
from convnets.data.prepared import load_augmented, load_prepared
from convnets.models.checkpoint import save_checkpoint
from convnets.runtime import resolve_device, seed_everything
from convnets.training.distributed import init_world
from convnets.training.launch import launch, plan_launch, under_launcher
from convnets.training.trainer import choose_runtime, log_epoch, timing, train_variant

OPTIONS = ("variant", "augmented", "prepared", "checkpoint", "live", "timing", "params")


def arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--variant", required=True, help="a key of `variants` in params.yaml")
    add("--augmented", type=Path, required=True, help="augmented train .npz")
    add("--prepared", type=Path, required=True, help="prepared .npz (val split)")
    add("--checkpoint", type=Path, required=True, help="checkpoint to write")
    add("--live", type=Path, required=True, help="dvclive folder to write")
    add("--timing", type=Path, required=True, help="wall-time JSON to write (not a metric)")


def run(args: argparse.Namespace, params: Params) -> None:
    recipe = params.recipe(args.variant)  # an unknown variant fails here, before any work
    device = resolve_device(params.base.device)
    if not under_launcher() and (plan := plan_launch(recipe.train, args.variant, device)).needed:
        return launch(plan, "train", {name: getattr(args, name) for name in OPTIONS})  # as workers
    world = init_world(device)
    try:
        recipe = dataclasses.replace(recipe, threads=world.threads(recipe.threads))
        seed_everything(recipe.seed, recipe.threads)
        data = load_prepared(args.prepared)
        train_split = load_augmented(args.augmented, like=data)
        runtime, choice = choose_runtime(recipe, data, device, world)
        live = Live(str(args.live), dvcyaml=False, save_dvc_exp=False) if world.writes else None
        on_epoch = (lambda stats: log_epoch(live, stats)) if live else (lambda stats: None)
        trained = train_variant(recipe, data, train_split, runtime, world, on_epoch)
    finally:
        world.close()
    if live is not None and trained.checkpoint is not None:
        save_checkpoint(args.checkpoint, trained.checkpoint)
        live.summary["best"] = trained.checkpoint.metrics  # the kept epoch's, beside the last's
        live.end()
        io.write_json(args.timing, timing(trained.result) | {"precision": choice.describe()})
