"""ONNX export of a trained model, described by its metadata, and onnx's checker.

The exported graph takes raw uint8 pixels, (N, H, W, C) as image files decode to, and does the
layout change, the scaling to [0, 1] and the normalization itself: no caller can get them wrong.
We use torch's TorchScript-based exporter (`dynamo=False`), chosen explicitly: it needs no extra
package and handles every model here at opset 17.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import onnx
import torch
from torch import nn

from convnets import io
from convnets.data.tensors import to_unit_float
from convnets.errors import ConvnetsError
from convnets.onnx.metadata import INPUT, OUTPUT, PROBABILITIES, ModelDescription

OPSET = 17


class RawPixels(nn.Module):
    """uint8 (N, H, W, C) -> logits: the layout change and scaling live in the graph."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = to_unit_float(pixels.permute(0, 3, 1, 2))  # (N, C, H, W) in [0, 1]
        return self.model(x)  # the model normalizes with its own mean/std buffers


class Calibrated(nn.Module):
    """uint8 (N, H, W, C) -> (scores, probabilities): the exported graph's two outputs.

    Probabilities are softmax(logits / T) with the temperature fitted at export, so any
    onnxruntime client gets calibrated ones. Capsule lengths pass through as they are: each is
    already the probability that its class is present (they need not sum to 1, and a softmax
    over ten lengths in [0, 1] would squash a confident 0.95 to about 0.2).
    """

    def __init__(self, model: nn.Module, temperature: float, softmax: bool):
        super().__init__()
        self.pixels, self.temperature, self.softmax = RawPixels(model), temperature, softmax

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scores = self.pixels(pixels)  # (N, K)
        if self.softmax:
            return scores, torch.softmax(scores / self.temperature, dim=1)
        return scores, scores.clone()


def export_onnx(model: nn.Module, description: ModelDescription) -> bytes:
    """The model as ONNX bytes with a dynamic batch axis, described in its metadata_props."""
    height, width, channels = description.shape
    softmax = description.scores == "logits"
    wrapped = Calibrated(model.eval().cpu(), description.temperature, softmax)
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
            output_names=[OUTPUT, PROBABILITIES],
            dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}, PROBABILITIES: {0: "batch"}},
            do_constant_folding=True,
        )
        proto = onnx.load(str(path))
    for key, value in description.to_props().items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
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
