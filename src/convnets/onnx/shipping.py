"""Export a trained variant: ONNX fp32 and static int8, each checked before anything is written.

The order is the guarantee: onnx's checker, parity with PyTorch on the test split, then the int8
accuracy gate. Only a model that passes all three comes back to be written, so a failing export
leaves the previous files as they were.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from convnets.config import ExportConfig
from convnets.data.prepared import PreparedData
from convnets.data.tensors import to_nchw
from convnets.errors import ConvnetsError
from convnets.evaluation.inference import predict_logits
from convnets.models.checkpoint import Checkpoint
from convnets.onnx.convert import OPSET, check, export_onnx
from convnets.onnx.metadata import ModelDescription, params_hash
from convnets.onnx.parity import parity
from convnets.onnx.quantize import quantize_int8
from convnets.onnx.sessions import accuracy, onnx_logits, onnx_session
from convnets.onnx.trust import Trust, assess
from convnets.runtime import resolve_runtime
from convnets.versions import library_versions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shipment:
    fp32: bytes  # the ONNX model, uint8 NHWC in, scores out
    int8: bytes  # the same, statically quantized
    metrics: dict  # parity, accuracies, sizes: reports/export/metrics.json


def describe(
    ckpt: Checkpoint, score_kind: str, trust: Trust, framing: str = "object"
) -> ModelDescription:
    """The metadata an exported file carries: enough to use it with nothing else at hand."""
    channels, height, width = ckpt.input_shape
    return ModelDescription(
        classes=ckpt.classes,
        input={"layout": "NHWC", "dtype": "uint8", "shape": [height, width, channels]},
        scores=score_kind,
        normalization=ckpt.normalization,
        dataset=ckpt.dataset,
        variant=ckpt.variant,
        model={"name": ckpt.model_name, "options": ckpt.options},
        params_hash=params_hash(ckpt.params),
        temperature=trust.temperature,
        ood=trust.ood,
        framing=framing,
    )


def ship(
    ckpt: Checkpoint, data: PreparedData, cfg: ExportConfig, threads: int, seed: int = 0
) -> Shipment:
    """Both models and their metrics, or a ConvnetsError that says which check failed."""
    model = ckpt.build()
    runtime = resolve_runtime("cpu", "fp32", threads)

    def scores_of(images):  # uint8 NHWC -> (N, K) float32, the one inference path
        return predict_logits(model, to_nchw(images), runtime).numpy()

    torch_logits = scores_of(data.x_test)
    softmax = model.score_kind == "logits"
    trust = assess(scores_of, data, torch_logits, softmax, cfg.ood_images, seed)
    fp32 = export_onnx(model, describe(ckpt, model.score_kind, trust, data.framing))
    check(fp32, "fp32")
    fp32_session = onnx_session(fp32, threads)
    agreement = parity(torch_logits, fp32_session, data.x_test, cfg.parity_atol)
    fp32_accuracy = accuracy(onnx_logits(fp32_session, data.x_test), data.y_test)

    int8 = quantize_int8(fp32, data.x_val[: cfg.calibration_images])
    check(int8, "int8")
    int8_accuracy = accuracy(onnx_logits(onnx_session(int8, threads), data.x_test), data.y_test)
    drop = (fp32_accuracy - int8_accuracy) * 100
    if drop > cfg.max_int8_drop:
        raise ConvnetsError(
            f"int8 test accuracy {int8_accuracy:.2%} is {drop:.2f} points below fp32 "
            f"({fp32_accuracy:.2%}); export.max_int8_drop allows {cfg.max_int8_drop}. Neither "
            f"file was written. Fix: more export.calibration_images, or raise the limit."
        )
    metrics = {
        "variant": ckpt.variant,
        "opset": OPSET,
        "parity": agreement,
        "test_accuracy": {
            "pytorch": accuracy(torch_logits, data.y_test),
            "onnx_fp32": fp32_accuracy,
            "onnx_int8": int8_accuracy,
        },
        "int8_drop_points": drop,
        **trust.metrics,
        "calibration_images": min(cfg.calibration_images, len(data.y_val)),
        "bytes": {"fp32": len(fp32), "int8": len(int8)},
        "torch_threads": torch.get_num_threads(),
        "versions": library_versions(),
    }
    return Shipment(fp32, int8, metrics)
