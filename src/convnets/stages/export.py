"""Stage `export`: the best variant to ONNX (fp32 and static int8), checked before it is written.

Both files are written only after the checker, the PyTorch parity check and the int8 accuracy
gate pass, so a failing export leaves the previous files as they were.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

from convnets import export, io
from convnets.checkpoint import check_matches_data, load_checkpoint
from convnets.config import Params
from convnets.data.prepared import load_prepared
from convnets.errors import ConvnetsError
from convnets.evaluation import predict_logits
from convnets.layout import to_nchw
from convnets.runtime import resolve_runtime, seed_everything
from convnets.versions import library_versions

log = logging.getLogger(__name__)
HELP = "export the best variant to ONNX (fp32 and int8) with parity checks"


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--best", type=Path, required=True, help="compare's best.json")
    parser.add_argument("--checkpoints", type=Path, required=True, help="folder of <variant>.pt")
    parser.add_argument("--prepared", type=Path, required=True, help="prepared .npz")
    parser.add_argument("--onnx", type=Path, required=True, help="fp32 ONNX to write")
    parser.add_argument("--int8", type=Path, required=True, help="int8 ONNX to write")
    parser.add_argument("--metrics", type=Path, required=True, help="export metrics JSON")


def run(args: argparse.Namespace, params: Params) -> None:
    best = io.read_json(args.best, producer="compare")
    variant = best["variant"]
    checkpoint = args.checkpoints / f"{variant}.pt"
    ckpt = load_checkpoint(checkpoint, f"train@{variant}")
    data = load_prepared(args.prepared)
    height, width, channels = data.image_shape
    check_matches_data(
        ckpt,
        checkpoint,
        params.base.dataset,
        (channels, height, width),
        data.classes,
        f"train@{variant}",
    )
    seed_everything(params.base.seed, params.base.threads)
    model = ckpt.build()
    cfg = params.export
    metadata = {
        "convnets.classes": list(ckpt.classes),
        "convnets.input": {"layout": "NHWC", "dtype": "uint8", "shape": [height, width, channels]},
        "convnets.normalization": ckpt.normalization,
        "convnets.dataset": ckpt.dataset,
        "convnets.variant": variant,
        "convnets.model": {"name": ckpt.model_name, "options": ckpt.options},
        "convnets.scores": model.score_kind,  # logits | capsule_lengths: predict reads it
        "convnets.params_hash": export.params_hash(ckpt.params),
    }
    fp32 = export.export_onnx(model, ckpt.input_shape, metadata)
    export.check(fp32, "fp32")

    runtime = resolve_runtime("cpu", "fp32", params.base.threads)
    torch_logits = predict_logits(model, to_nchw(data.x_test), runtime).numpy()
    fp32_session = export.onnx_session(fp32, params.base.threads)
    parity = export.parity(torch_logits, fp32_session, data.x_test, cfg.parity_atol)
    fp32_accuracy = export.accuracy(export.onnx_logits(fp32_session, data.x_test), data.y_test)

    int8 = export.quantize_int8(fp32, data.x_val[: cfg.calibration_images])
    export.check(int8, "int8")
    int8_session = export.onnx_session(int8, params.base.threads)
    int8_accuracy = export.accuracy(export.onnx_logits(int8_session, data.x_test), data.y_test)
    drop = (fp32_accuracy - int8_accuracy) * 100
    if drop > cfg.max_int8_drop:
        raise ConvnetsError(
            f"int8 test accuracy {int8_accuracy:.2%} is {drop:.2f} points below fp32 "
            f"({fp32_accuracy:.2%}); export.max_int8_drop allows {cfg.max_int8_drop}. Neither "
            f"file was written. Fix: more export.calibration_images, or raise the limit."
        )
    export.write_model(args.onnx, fp32)
    export.write_model(args.int8, int8)
    io.write_json(
        args.metrics,
        {
            "variant": variant,
            "opset": export.OPSET,
            "parity": parity,
            "test_accuracy": {
                "pytorch": export.accuracy(torch_logits, data.y_test),
                "onnx_fp32": fp32_accuracy,
                "onnx_int8": int8_accuracy,
            },
            "int8_drop_points": drop,
            "calibration_images": min(cfg.calibration_images, len(data.y_val)),
            "bytes": {"fp32": len(fp32), "int8": len(int8)},
            "torch_threads": torch.get_num_threads(),
            "versions": library_versions(),
        },
    )
    log.info(
        "export %s: parity max diff %.1e; test accuracy fp32 %.2f%%, int8 %.2f%% (%.2f points)",
        variant,
        parity["max_abs_diff_all"],
        fp32_accuracy * 100,
        int8_accuracy * 100,
        drop,
    )
