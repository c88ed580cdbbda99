"""`convnets bench-train`: training images/s, ours against the DataLoader pattern (not a stage).

Trains the `cnn` variant's model for a fixed number of steps on the real Fashion-MNIST both ways
in one run, and writes both rates and their ratio.
"""

from __future__ import annotations

import argparse
import logging
import platform
from pathlib import Path

import torch

from convnets import io
from convnets.benchmarks import throughput
from convnets.config import Params
from convnets.data.prepared import channel_stats, load_prepared
from convnets.data.tensors import to_nchw
from convnets.errors import ConvnetsError
from convnets.runtime import resolve_runtime, seed_everything
from convnets.training.trainer import build_model
from convnets.versions import library_versions

log = logging.getLogger(__name__)


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--raw", type=Path, default=Path("data/raw/fashion-mnist"))
    parser.add_argument("--prepared", type=Path, default=Path("data/prepared/fashion-mnist.npz"))
    parser.add_argument("--out", type=Path, default=Path("reports/bench_train.json"))
    parser.add_argument("--variant", default="cnn", help="the variant whose model is timed")
    parser.add_argument("--steps", type=int, default=100, help="timed steps per path")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps first")


def run(args: argparse.Namespace, params: Params) -> None:
    variant = params.variant(args.variant)
    batch_size = params.training(args.variant).batch_size
    data = load_prepared(args.prepared)
    if data.dataset != "fashion-mnist":
        raise ConvnetsError(
            f"bench-train compares against torchvision's FashionMNIST, but {args.prepared} "
            f"holds {data.dataset}. Fix: pass --prepared of a fashion-mnist run."
        )
    mean, std = channel_stats(data.x_train)
    fast = resolve_runtime("cpu", params.train.precision, params.base.threads)

    def fresh_model():
        seed_everything(params.base.seed, params.base.threads)
        return build_model(variant, data)

    images, labels = to_nchw(data.x_train), torch.from_numpy(data.y_train)
    log.info("timing ours: %d steps of %d images (%s)", args.steps, batch_size, fast.describe())
    ours = throughput.ours(fresh_model(), images, labels, fast, batch_size, args.steps, args.warmup)
    log.info("timing torchvision DataLoader + fp32: %d steps", args.steps)
    plain = fresh_model()
    plain.set_normalization([0.0], [1.0])  # theirs normalizes in the transform instead
    theirs = throughput.theirs(
        plain, args.raw, mean[0], std[0], batch_size, args.steps, args.warmup
    )
    ratio = ours.images_per_second / theirs.images_per_second
    report = {
        "model": variant.model,
        "variant": args.variant,
        "batch_size": batch_size,
        "steps": args.steps,
        "warmup_steps": args.warmup,
        "ours": vars(ours) | fast.describe() | {"layout": "channels_last"},
        "torchvision_dataloader": vars(theirs) | {"precision": "fp32", "num_workers": 0},
        "speedup": ratio,
        "cpu": platform.processor() or platform.machine(),
        "versions": library_versions(),
    }
    io.write_json(args.out, report)
    log.info(
        "ours %.0f img/s, torchvision DataLoader %.0f img/s: %.2fx",
        ours.images_per_second,
        theirs.images_per_second,
        ratio,
    )
