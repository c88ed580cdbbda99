"""Static int8 quantization of an exported model with onnxruntime.quantization."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnx

from convnets.onnx.metadata import INPUT
from convnets.onnx.sessions import batches


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
    Weights use 7 bits (`reduce_range`): CPUs without VNNI (AVX2 and plain AVX-512) multiply
    u8 x s8 with VPMADDUBSW, whose 16-bit sums saturate with 8-bit weights. On an AVX2-only
    EPYC the default VGG lost 1.68 points that way (93.37% fp32, 91.69% int8) and the export
    gate refused it; the file ships to every class of CPU, so it is built to be exact on all.
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
            reduce_range=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
        proto = onnx.load(str(quantized))
    source = onnx.load_from_string(fp32_model)
    del proto.metadata_props[:]
    proto.metadata_props.extend(source.metadata_props)
    return proto.SerializeToString()
