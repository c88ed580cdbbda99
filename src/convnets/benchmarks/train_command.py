"""`convnets bench-train`: training images/s on this machine (a command, not a DVC stage).

For every variant in params.yaml: our training path in fp32 and in bf16 (emulated where the CPU
has no native bf16), each beside its compute-only ceiling, and which precision `auto` picks
(the same choice, from the same probe and cache, that `convnets train` makes). For
one variant (`--variant`, the lesson CNN by default), the same model trained the way most
tutorials teach (torchvision's Dataset and DataLoader, fp32), measured in the same run.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

from convnets import io
from convnets.benchmarks import throughput
from convnets.config import Params
from convnets.data.augmentation import AugmentSettings
from convnets.data.prepared import PreparedData, channel_stats, load_prepared
from convnets.data.tensors import to_nchw
from convnets.errors import ConvnetsError
from convnets.runtime import Runtime, cpu_has_bf16, machine, seed_everything
from convnets.training.distributed import World
from convnets.training.precision import PRECISIONS
from convnets.training.trainer import build_model, choose_runtime
from convnets.versions import library_versions

log = logging.getLogger(__name__)


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--raw", type=Path, default=Path("data/raw/fashion-mnist"))
    parser.add_argument("--prepared", type=Path, default=Path("data/prepared/fashion-mnist.npz"))
    parser.add_argument("--out", type=Path, default=Path("reports/bench_train.json"))
    parser.add_argument("--variant", default="cnn", help="the variant also timed the tutorial way")
    parser.add_argument("--steps", type=int, default=50, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument(
        "--repeats", type=int, default=5, help="ours/ceiling pairs per precision (medians kept)"
    )


def run(args: argparse.Namespace, params: Params) -> None:
    if min(args.steps, args.repeats) < 1:
        raise ConvnetsError(
            f"--steps {args.steps} and --repeats {args.repeats} must both be at least 1. "
            f"Fix: pass positive numbers (defaults: --steps 50 --repeats 5)."
        )
    data = load_prepared(args.prepared)
    if data.dataset != "fashion-mnist":
        raise ConvnetsError(
            f"bench-train compares against torchvision's FashionMNIST, but {args.prepared} "
            f"holds {data.dataset}. Fix: pass --prepared of a fashion-mnist run."
        )
    threads, device = params.base.threads, torch.device("cpu")
    # bf16 is timed even where it is emulated: that measurement is why `auto` skips it there.
    runtimes = {precision: Runtime(device, precision, threads) for precision in PRECISIONS}
    variants = {}
    for name in params.variants:
        table = _variant_table(args, params, data, name, runtimes)
        _, choice = choose_runtime(name, params, data, device, World())
        table |= {"auto": choice.describe(), "auto_is_faster": choice.precision == table["faster"]}
        variants[name] = table
        _log_variant(name, table, choice.precision)
    auto = variants[args.variant]["auto"]["precision"] if args.variant in variants else "fp32"
    report = {
        "variants": variants,
        "tutorial_comparison": _tutorial_comparison(args, params, data, runtimes[auto]),
        "steps": args.steps,
        "warmup_steps": args.warmup,
        "repeats": args.repeats,
        "threads": threads,
        "cpu": machine() | {"native_bf16": cpu_has_bf16()},
        "versions": library_versions(),
    }
    io.write_json(args.out, report)


def _log_variant(name: str, table: dict, auto: str) -> None:
    for precision in PRECISIONS:
        row = table[precision]
        log.info(
            "%-8s %s: %6.0f img/s, ceiling %6.0f img/s, %3.0f%% of it (median of %d)%s",
            name, precision, row["ours"], row["ceiling"], 100 * row["share_of_ceiling"],
            row["repeats"], " (auto)" if precision == auto else "",
        )  # fmt: skip


def _variant_table(args, params: Params, data: PreparedData, name: str, runtimes) -> dict:
    recipe = params.training(name)
    augment = AugmentSettings.from_config(params.augment) if recipe.batch_augment else None

    def fresh_model():
        seed_everything(params.base.seed, params.base.threads)
        return build_model(params.variant(name), data)

    images, labels = to_nchw(data.x_train), torch.from_numpy(data.y_train)
    # emulated bf16 is 5x to 10x slower and never chosen: one pair says so, repeats add minutes
    repeats = {p: args.repeats if p == "fp32" or cpu_has_bf16() else 1 for p in runtimes}
    return throughput.precision_table(
        fresh_model, images, labels, runtimes, recipe.batch_size, augment, args.steps,
        args.warmup, repeats,
    ) | {"batch_size": recipe.batch_size, "batch_augment": augment is not None}  # fmt: skip


def _tutorial_comparison(args, params: Params, data: PreparedData, runtime) -> dict:
    """Our path (no augmentation, as theirs has none) against torchvision's DataLoader, fp32."""
    batch_size = params.training(args.variant).batch_size
    seed_everything(params.base.seed, params.base.threads)
    ours_model = build_model(params.variant(args.variant), data)
    images, labels = to_nchw(data.x_train), torch.from_numpy(data.y_train)
    ours = throughput.ours(ours_model, images, labels, runtime, batch_size, args.steps, args.warmup)
    seed_everything(params.base.seed, params.base.threads)
    plain = build_model(params.variant(args.variant), data)
    plain.set_normalization([0.0], [1.0])  # theirs normalizes in the transform instead
    mean, std = channel_stats(data.x_train)
    theirs = throughput.theirs(
        plain, args.raw, mean[0], std[0], batch_size, args.steps, args.warmup
    )
    ratio = ours.images_per_second / theirs.images_per_second
    log.info("%s: ours %.0f img/s, torchvision DataLoader %.0f img/s: %.2fx", args.variant,
             ours.images_per_second, theirs.images_per_second, ratio)  # fmt: skip
    return {
        "variant": args.variant,
        "batch_size": batch_size,
        "ours": vars(ours) | runtime.describe() | {"layout": "channels_last"},
        "torchvision_dataloader": vars(theirs) | {"precision": "fp32", "num_workers": 0},
        "speedup": ratio,
    }
