"""Parity: an exported model must give PyTorch's logits and predictions, or it is not written."""

from __future__ import annotations

import numpy as np

from convnets.errors import ConvnetsError
from convnets.onnx.metadata import INPUT, OUTPUT
from convnets.onnx.sessions import onnx_logits


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
