"""Stage `evaluate@<variant>`: test and validation metrics, confusion matrix, confident mistakes."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from convnets.config import Params
from convnets.data.prepared import load_prepared
from convnets.evaluation.assessment import assess
from convnets.evaluation.outputs import write_assessment
from convnets.models.checkpoint import load_trained
from convnets.runtime import resolve_runtime, seed_everything

log = logging.getLogger(__name__)


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--variant", required=True, help="a key of `variants` in params.yaml")
    parser.add_argument("--checkpoint", type=Path, required=True, help="the variant's checkpoint")
    parser.add_argument("--prepared", type=Path, required=True, help="prepared .npz")
    parser.add_argument("--out", type=Path, required=True, help="folder for metrics and plots")


def run(args: argparse.Namespace, params: Params) -> None:
    params.variant(args.variant)  # an unknown name fails here, before any work
    data = load_prepared(args.prepared)
    ckpt = load_trained(args.checkpoint, f"train@{args.variant}", data)
    seed_everything(params.base.seed, params.base.threads)
    runtime = resolve_runtime(params.base.device, "fp32", params.base.threads)  # exact numbers
    cfg = params.evaluate
    assessment = assess(ckpt, data, runtime, cfg.batch_size, cfg.tta)
    write_assessment(args.out, data, assessment, cfg.mistakes)
    test, val = assessment.summary["test"], assessment.summary["val"]
    log.info(
        "evaluate %s: test accuracy %.4f, macro F1 %.4f; val accuracy %.4f",
        args.variant, test["accuracy"], test["macro_f1"], val["accuracy"],
    )  # fmt: skip
