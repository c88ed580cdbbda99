"""Stage `explorer`: reports/explorer, the exported model live in the browser (onnxruntime-web)."""

from __future__ import annotations

import argparse
import logging
from datetime import UTC, datetime
from pathlib import Path

import onnx

from convnets import io
from convnets.config import Params
from convnets.data.prepared import load_prepared
from convnets.errors import ConvnetsError
from convnets.explorer.npm import find_runtime
from convnets.explorer.site import SiteInputs, build_site
from convnets.onnx.metadata import ModelDescription
from convnets.predict import PredictError, load_classifier

log = logging.getLogger(__name__)


def arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--onnx", type=Path, required=True, help="the exported fp32 model")
    add("--prepared", type=Path, required=True, help="prepared .npz (its test split)")
    add("--export-metrics", type=Path, required=True, help="export's metrics JSON")
    add("--package-lock", type=Path, required=True, help="package-lock.json pinning the runtime")
    add("--out", type=Path, required=True, help="the site folder to write")


def _written(path: Path) -> str:
    """The model file's modification time, UTC, to the minute: when export (or a checkout)
    wrote it."""
    stamp = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    return stamp.strftime("%Y-%m-%d %H:%M UTC")


def run(args: argparse.Namespace, params: Params) -> None:
    try:
        load_classifier(args.onnx, threads=1)  # predict's checks: pointer, corrupt, external data
    except PredictError as exc:
        raise ConvnetsError(str(exc)) from None
    model = args.onnx.read_bytes()
    description = ModelDescription.from_model(onnx.load_from_string(model))
    data = load_prepared(args.prepared)
    metrics = io.read_json(args.export_metrics, producer="export")
    inputs = SiteInputs(
        model, description, data.x_test, data.y_test,
        metrics["test_accuracy"]["onnx_fp32"], find_runtime(args.package_lock, Path.cwd()),
        _written(args.onnx),
    )  # fmt: skip
    settings = params.explorer
    site = build_site(args.out, inputs, settings.test_images, settings.patch_images)
    log.info(
        "wrote %s: %d layers, %d test images", args.out, len(site["layers"]), site["test"]["count"]
    )
