"""Stage `evaluate@<variant>`: test and validation metrics, confusion matrix, confident mistakes."""

from __future__ import annotations

import argparse
import logging

from convnets.config import Params
from convnets.evaluation.assessment import assess
from convnets.evaluation.outputs import write_assessment
from convnets.evaluation.scored_variant import load_variant, variant_arguments

log = logging.getLogger(__name__)


def arguments(parser: argparse.ArgumentParser) -> None:
    variant_arguments(parser, out="folder for metrics and plots")


def run(args: argparse.Namespace, params: Params) -> None:
    scored = load_variant(args, params)
    cfg = params.evaluate
    assessment = assess(scored.checkpoint, scored.data, scored.runtime, cfg.batch_size, cfg.tta)
    write_assessment(args.out, scored.data, assessment, cfg.mistakes)
    test, val = assessment.summary["test"], assessment.summary["val"]
    log.info(
        "evaluate %s: test accuracy %.4f, macro F1 %.4f; val accuracy %.4f",
        args.variant, test["accuracy"], test["macro_f1"], val["accuracy"],
    )  # fmt: skip
