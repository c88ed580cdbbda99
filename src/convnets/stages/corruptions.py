"""Stage `corruptions@<variant>`: accuracy on test images changed in fifteen ordinary ways
(noise, blur, exposure, geometry, compression, occlusion), each at several severities."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from convnets import io
from convnets.config import Params
from convnets.data.prepared import load_prepared
from convnets.data.tensors import to_nchw
from convnets.evaluation.robustness import Suite, corruption_accuracy
from convnets.models.checkpoint import load_trained
from convnets.runtime import resolve_runtime, seed_everything
from convnets.versions import library_versions

log = logging.getLogger(__name__)


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--variant", required=True, help="a key of `variants` in params.yaml")
    parser.add_argument("--checkpoint", type=Path, required=True, help="the variant's checkpoint")
    parser.add_argument("--prepared", type=Path, required=True, help="prepared .npz")
    parser.add_argument("--out", type=Path, required=True, help="the JSON to write")


def run(args: argparse.Namespace, params: Params) -> None:
    params.variant(args.variant)  # an unknown name fails here, before any work
    data = load_prepared(args.prepared)
    ckpt = load_trained(args.checkpoint, f"train@{args.variant}", data)
    seed_everything(params.base.seed, params.base.threads)
    runtime = resolve_runtime(params.base.device, "fp32", params.base.threads)
    cfg = params.corruptions
    count = min(cfg.images, len(data.y_test))
    suite = Suite(cfg.names, tuple(cfg.severities), params.base.seed)
    model = ckpt.build().to(runtime.device)
    images, labels = to_nchw(data.x_test[:count]), data.y_test[:count]
    result = corruption_accuracy(model, images, labels, runtime, params.evaluate.batch_size, suite)
    io.write_json(args.out, {"variant": args.variant} | result | library_versions())
    log.info(
        "corruptions %s: mean %.4f over %d sets of %d images (clean %.4f)",
        args.variant, result["mean"], len(cfg.names) * len(cfg.severities), count, result["clean"],
    )  # fmt: skip
