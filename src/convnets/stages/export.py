"""Stage `export`: the best variant to ONNX (fp32 and static int8), checked before it is written."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from convnets import io
from convnets.config import Params
from convnets.data.prepared import load_prepared
from convnets.models.checkpoint import load_trained
from convnets.onnx.convert import write_model
from convnets.onnx.shipping import ship
from convnets.runtime import seed_everything

log = logging.getLogger(__name__)


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", type=Path, required=True, help="compare's copy of the best")
    parser.add_argument("--prepared", type=Path, required=True, help="prepared .npz")
    parser.add_argument("--onnx", type=Path, required=True, help="fp32 ONNX to write")
    parser.add_argument("--int8", type=Path, required=True, help="int8 ONNX to write")
    parser.add_argument("--metrics", type=Path, required=True, help="export metrics JSON")


def run(args: argparse.Namespace, params: Params) -> None:
    data = load_prepared(args.prepared)
    ckpt = load_trained(args.checkpoint, "compare", data)  # it names its variant
    seed_everything(params.base.seed, params.base.threads)
    shipment = ship(ckpt, data, params.export, params.base.threads, params.base.seed)
    write_model(args.onnx, shipment.fp32)
    write_model(args.int8, shipment.int8)
    io.write_json(args.metrics, shipment.metrics)
    m = shipment.metrics
    log.info(
        "export %s: parity max diff %.1e; test accuracy fp32 %.2f%%, int8 %.2f%% (%.2f points)",
        ckpt.variant,
        m["parity"]["max_abs_diff_all"],
        m["test_accuracy"]["onnx_fp32"] * 100,
        m["test_accuracy"]["onnx_int8"] * 100,
        m["int8_drop_points"],
    )
