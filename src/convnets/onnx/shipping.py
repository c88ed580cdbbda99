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
from convnets.evaluation.trust import Trust, fit_trust
from convnets.models.checkpoint import Checkpoint
from convnets.onnx.convert import OPSET, check, export_onnx
from convnets.onnx.metadata import ModelDescription, params_hash
from convnets.onnx.parity import parity
from convnets.onnx.quantize import quantize_int8
from convnets.onnx.sessions import accuracy, onnx_logits, onnx_session
from convnets.runtime import resolve_runtime
from convnets.versions import library_versions

log = logging.getLogger(__name__)
MIN_LOST_IMAGES = 2  # test images int8 may always lose (see int8_allowance)


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


def int8_allowance(max_drop_points: float, test_images: int) -> float:
    """Points of test accuracy int8 may lose: `export.max_int8_drop`, but never less than
    `MIN_LOST_IMAGES` images' worth, since on a small test split (a few hundred pictures of
    your own) one image is more than half a point and the gate would only measure noise."""
    return max(max_drop_points, 100.0 * MIN_LOST_IMAGES / max(test_images, 1))


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
    trust = fit_trust(scores_of, data, torch_logits, softmax, cfg.ood_images, seed)
    fp32 = export_onnx(model, describe(ckpt, model.score_kind, trust, data.framing))
    check(fp32, "fp32")
    fp32_session = onnx_session(fp32, threads)
    agreement = parity(torch_logits, fp32_session, data.x_test, cfg.parity_atol)
    fp32_accuracy = accuracy(onnx_logits(fp32_session, data.x_test), data.y_test)

    int8 = quantize_int8(fp32, data.x_val[: cfg.calibration_images])
    check(int8, "int8")
    int8_accuracy = accuracy(onnx_logits(onnx_session(int8, threads), data.x_test), data.y_test)
    drop = (fp32_accuracy - int8_accuracy) * 100
    allowed = int8_allowance(cfg.max_int8_drop, len(data.y_test))
    if drop > allowed + 1e-9:  # the accuracies are image counts over n: float noise only
        raise ConvnetsError(
            f"int8 test accuracy {int8_accuracy:.2%} is {drop:.2f} points below fp32 "
            f"({fp32_accuracy:.2%}); export.max_int8_drop allows {cfg.max_int8_drop} "
            f"({allowed:.2f} points on {len(data.y_test)} test images). Neither file was "
            f"written. Fix: more export.calibration_images, or raise the limit."
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
        "int8_allowed_points": allowed,
        **trust.metrics,
        "calibration_images": min(cfg.calibration_images, len(data.y_val)),
        "bytes": {"fp32": len(fp32), "int8": len(int8)},
        "torch_threads": torch.get_num_threads(),
        "versions": library_versions(),
    }
    return Shipment(fp32, int8, metrics)
