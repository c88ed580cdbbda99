"""ONNX export of a trained model, with its description, parity checks and int8 quantization.

The exported graph takes raw uint8 pixels, (N, H, W, C) as image files decode to, and does the
layout change, the scaling to [0, 1] and the normalization itself: no caller can get them wrong.
We use torch's TorchScript-based exporter (`dynamo=False`), chosen explicitly: it needs no extra
package and handles every model here at opset 17.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from convnets import io
from convnets.errors import ConvnetsError

OPSET = 17
INPUT, OUTPUT = "pixels", "logits"


class RawPixels(nn.Module):
    """uint8 (N, H, W, C) -> logits: the layout change and scaling live in the graph."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = pixels.permute(0, 3, 1, 2).float() / 255.0  # (N, C, H, W) in [0, 1]
        return self.model(x)  # the model normalizes with its own mean/std buffers


def params_hash(params: dict) -> str:
    """A short, stable fingerprint of the params a model was trained with."""
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def export_onnx(model: nn.Module, input_shape: tuple[int, int, int], metadata: dict) -> bytes:
    """The model as ONNX bytes with a dynamic batch axis and `metadata` as metadata_props."""
    channels, height, width = input_shape
    wrapped = RawPixels(model.eval().cpu())
    example = torch.zeros(1, height, width, channels, dtype=torch.uint8)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        # We choose the TorchScript exporter on purpose (see the module docstring).
        warnings.simplefilter("ignore", DeprecationWarning)
        path = Path(tmp) / "model.onnx"
        torch.onnx.export(
            wrapped,
            (example,),
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=[INPUT],
            output_names=[OUTPUT],
            dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}},
            do_constant_folding=True,
        )
        proto = onnx.load(str(path))
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value if isinstance(value, str) else json.dumps(value)
    return proto.SerializeToString()


def check(model_bytes: bytes, what: str) -> None:
    """onnx's full check (graph, types and shape inference); a failure stops the stage."""
    try:
        onnx.checker.check_model(onnx.load_from_string(model_bytes), full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise ConvnetsError(f"the {what} model fails onnx's checker: {exc}") from None


def write_model(path: Path, model_bytes: bytes) -> None:
    with io.atomic_write(path) as handle:
        handle.write(model_bytes)


def batches(images: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(images), size):
        yield images[start : start + size]


def onnx_session(model: bytes, threads: int):
    """An onnxruntime CPU session with a fixed thread count (reproducible, comparable timings)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def onnx_logits(session, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Logits for uint8 NHWC images, batch by batch."""
    return np.concatenate(
        [session.run([OUTPUT], {INPUT: chunk})[0] for chunk in batches(images, batch_size)]
    )


def calibration_reader(images: np.ndarray, batch_size: int = 64):
    """Feeds validation images to onnxruntime's static-quantization calibrator."""
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.chunks = batches(images, batch_size)

        def get_next(self):
            chunk = next(self.chunks, None)
            return None if chunk is None else {INPUT: chunk}

    return Reader()


def quantize_int8(fp32_model: bytes, calibration: np.ndarray) -> bytes:
    """Static int8 quantization (QDQ, per-channel weights), calibrated on `calibration` images.

    Pre-processing (shape inference and graph optimization) first, as onnxruntime recommends.
    The fp32 model's metadata is carried over, so the int8 file describes itself too.
    """
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as tmp:
        fp32, prepared, quantized = (Path(tmp) / n for n in ("fp32.onnx", "pre.onnx", "q.onnx"))
        fp32.write_bytes(fp32_model)
        quant_pre_process(str(fp32), str(prepared))
        quantize_static(
            str(prepared),
            str(quantized),
            calibration_reader(calibration),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
        proto = onnx.load(str(quantized))
    source = onnx.load_from_string(fp32_model)
    del proto.metadata_props[:]
    proto.metadata_props.extend(source.metadata_props)
    return proto.SerializeToString()


def parity(torch_logits: np.ndarray, session, images: np.ndarray, atol: float) -> dict[str, float]:
    """Compare onnxruntime with PyTorch: batch 1, batch 7 and the whole set, same argmax.

    Raises when any logit differs by more than `atol` or any prediction differs.
    """
    report = {}
    for label, count in (("batch_1", 1), ("batch_7", 7)):
        got = session.run([OUTPUT], {INPUT: images[:count]})[0]
        report[f"max_abs_diff_{label}"] = float(np.abs(got - torch_logits[:count]).max())
    whole = onnx_logits(session, images)
    report["max_abs_diff_all"] = float(np.abs(whole - torch_logits).max())
    report["argmax_agreement"] = float((whole.argmax(1) == torch_logits.argmax(1)).mean())
    worst = max(v for k, v in report.items() if k.startswith("max_abs_diff"))
    if worst > atol or report["argmax_agreement"] < 1.0:
        raise ConvnetsError(
            f"ONNX and PyTorch disagree: max |logit difference| {worst:.2e} (allowed "
            f"{atol:.0e}), same prediction on {report['argmax_agreement']:.2%} of images. "
            "The exported file was not written."
        )
    return report


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((logits.argmax(1) == labels).mean())
