"""onnxruntime sessions on the CPU, and logits and accuracy of an exported model.

No torch here: the benchmark and the parity check run exported files through these.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from convnets.onnx.metadata import INPUT, OUTPUT


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


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((logits.argmax(1) == labels).mean())
