"""Stage `corruptions@<variant>`: accuracy on test images changed in fifteen ordinary ways
(noise, blur, exposure, geometry, compression, occlusion), each at several severities."""

from __future__ import annotations

import argparse
import logging

from convnets import io
from convnets.config import Params
from convnets.data.tensors import to_nchw
from convnets.evaluation.robustness import Suite, corruption_accuracy
from convnets.evaluation.scored_variant import load_variant, variant_arguments
from convnets.versions import library_versions

log = logging.getLogger(__name__)


def arguments(parser: argparse.ArgumentParser) -> None:
    variant_arguments(parser, out="the JSON to write")


def run(args: argparse.Namespace, params: Params) -> None:
    scored = load_variant(args, params)
    cfg, data, runtime = params.corruptions, scored.data, scored.runtime
    count = min(cfg.images, len(data.y_test))
    suite = Suite(cfg.names, cfg.severities, params.base.seed)
    model = scored.checkpoint.build().to(runtime.device)
    images, labels = to_nchw(data.x_test[:count]), data.y_test[:count]
    result = corruption_accuracy(model, images, labels, runtime, params.evaluate.batch_size, suite)
    io.write_json(args.out, {"variant": args.variant} | result | library_versions())
    log.info(
        "corruptions %s: mean %.4f over %d sets of %d images (clean %.4f)",
        args.variant, result["mean"], len(cfg.names) * len(cfg.severities), count, result["clean"],
    )  # fmt: skip
