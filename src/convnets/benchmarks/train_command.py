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
from dataclasses import dataclass
from pathlib import Path

import torch

from convnets import io
from convnets.benchmarks import throughput
from convnets.config import Params, VariantRecipe
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
    parser.add_argument("--raw", type=Path, help="upstream files (default: %(default)s)")
    parser.add_argument("--prepared", type=Path, help="prepared data (default: %(default)s)")
    parser.add_argument("--out", type=Path, help="the report (default: %(default)s)")
    parser.add_argument("--variant", default="cnn", help="the variant also timed the tutorial way")
    parser.add_argument("--steps", type=int, default=50, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument(
        "--repeats", type=int, default=5, help="ours/ceiling pairs per precision (medians kept)"
    )


@dataclass(frozen=True)
class StepCounts:
    """How many steps each measurement times, after how many untimed, and how often (flags)."""

    steps: int  # timed steps
    warmup: int  # untimed steps first
    repeats: int  # ours/ceiling pairs per precision; medians kept


def run(args: argparse.Namespace, params: Params) -> None:
    if min(args.steps, args.repeats) < 1:
        raise ConvnetsError(
            f"--steps {args.steps} and --repeats {args.repeats} must both be at least 1. "
            f"Fix: pass positive numbers (defaults: --steps 50 --repeats 5)."
        )
    tutorial = params.recipe(args.variant)  # an unknown variant fails here, before any work
    recipes = [params.recipe(name) for name in params.variants]
    data = load_prepared(args.prepared)
    if data.dataset != "fashion-mnist":
        raise ConvnetsError(
            f"bench-train compares against torchvision's FashionMNIST, but {args.prepared} "
            f"holds {data.dataset}. Fix: pass --prepared of a fashion-mnist run."
        )
    counts = StepCounts(args.steps, args.warmup, args.repeats)
    io.write_json(args.out, bench_train(recipes, tutorial, data, args.raw, counts))


def bench_train(
    recipes: list[VariantRecipe],
    tutorial: VariantRecipe,
    data: PreparedData,
    raw: Path,
    counts: StepCounts,
) -> dict:
    """Every variant per precision beside its ceiling and `auto`'s pick; then `tutorial`'s
    variant our way against torchvision's DataLoader reading the upstream files in `raw`."""
    threads, device = tutorial.threads, torch.device("cpu")  # base.threads: every recipe's
    # bf16 is timed even where it is emulated: that measurement is why `auto` skips it there.
    runtimes = {precision: Runtime(device, precision, threads) for precision in PRECISIONS}
    variants = {}
    for recipe in recipes:
        table = _variant_table(recipe, data, runtimes, counts)
        _, choice = choose_runtime(recipe, data, device, World())
        table |= {"auto": choice.describe(), "auto_is_faster": choice.precision == table["faster"]}
        variants[recipe.name] = table
        _log_variant(recipe.name, table, choice.precision)
    auto = variants[tutorial.name]["auto"]["precision"]
    return {
        "variants": variants,
        "tutorial_comparison": _tutorial_comparison(tutorial, data, raw, runtimes[auto], counts),
        "steps": counts.steps,
        "warmup_steps": counts.warmup,
        "repeats": counts.repeats,
        "threads": threads,
        "cpu": machine() | {"native_bf16": cpu_has_bf16()},
        "versions": library_versions(),
    }


def _log_variant(name: str, table: dict, auto: str) -> None:
    for precision in PRECISIONS:
        row = table[precision]
        log.info(
            "%-8s %s: %6.0f img/s, ceiling %6.0f img/s, %3.0f%% of it (median of %d)%s",
            name, precision, row["ours"], row["ceiling"], 100 * row["share_of_ceiling"],
            row["repeats"], " (auto)" if precision == auto else "",
        )  # fmt: skip


def _variant_table(
    recipe: VariantRecipe, data: PreparedData, runtimes: dict[str, Runtime], counts: StepCounts
) -> dict:
    batch_size = recipe.train.batch_size
    augment = AugmentSettings.from_config(recipe.augment) if recipe.train.batch_augment else None

    def fresh_model():
        seed_everything(recipe.seed, recipe.threads)
        return build_model(recipe.variant, data)

    images, labels = to_nchw(data.x_train), torch.from_numpy(data.y_train)
    # emulated bf16 is 5x to 10x slower and never chosen: one pair says so, repeats add minutes
    repeats = {p: counts.repeats if p == "fp32" or cpu_has_bf16() else 1 for p in runtimes}
    return throughput.precision_table(
        fresh_model, images, labels, runtimes, batch_size, augment, counts.steps, counts.warmup,
        repeats,
    ) | {"batch_size": batch_size, "batch_augment": augment is not None}  # fmt: skip


def _tutorial_comparison(
    recipe: VariantRecipe, data: PreparedData, raw: Path, runtime: Runtime, counts: StepCounts
) -> dict:
    """Our path (no augmentation, as theirs has none) against torchvision's DataLoader, fp32."""
    batch_size, steps, warmup = recipe.train.batch_size, counts.steps, counts.warmup
    seed_everything(recipe.seed, recipe.threads)
    ours_model = build_model(recipe.variant, data)
    images, labels = to_nchw(data.x_train), torch.from_numpy(data.y_train)
    ours = throughput.ours(ours_model, images, labels, runtime, batch_size, steps, warmup)
    seed_everything(recipe.seed, recipe.threads)
    plain = build_model(recipe.variant, data)
    plain.set_normalization([0.0], [1.0])  # theirs normalizes in the transform instead
    mean, std = channel_stats(data.x_train)
    theirs = throughput.theirs(plain, raw, mean[0], std[0], batch_size, steps, warmup)
    ratio = ours.images_per_second / theirs.images_per_second
    log.info("%s: ours %.0f img/s, torchvision DataLoader %.0f img/s: %.2fx", recipe.name,
             ours.images_per_second, theirs.images_per_second, ratio)  # fmt: skip
    return {
        "variant": recipe.name,
        "batch_size": batch_size,
        "ours": vars(ours) | runtime.describe() | {"layout": "channels_last"},
        "torchvision_dataloader": vars(theirs) | {"precision": "fp32", "num_workers": 0},
        "speedup": ratio,
    }
