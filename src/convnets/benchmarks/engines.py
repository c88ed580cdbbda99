"""Inference engines side by side: same images, same threads, only the model call timed.

Every engine maps uint8 NHWC images to logits, so inputs are prepared before the clock starts
and the numbers compare the engines, not their input pipelines.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from convnets.errors import ConvnetsError
from convnets.onnx.convert import RawPixels
from convnets.onnx.sessions import onnx_logits, onnx_session

Engine = Callable[[np.ndarray], np.ndarray]  # uint8 (N, H, W, C) -> logits (N, classes)


def torch_engine(model: nn.Module, compile_model: bool = False) -> Engine:
    """PyTorch fp32 eager (or torch.compile'd), without autograd."""
    net = RawPixels(model.eval().cpu())
    if compile_model:
        net = torch.compile(net)

    @torch.inference_mode()
    def run(images: np.ndarray) -> np.ndarray:
        return net(torch.from_numpy(images)).numpy()

    return run


def onnx_engine(model_path: Path, threads: int) -> Engine:
    """An onnxruntime session on `model_path`; a missing or corrupt file names `export`."""
    try:
        session = onnx_session(model_path.read_bytes(), threads)
    except FileNotFoundError:
        raise ConvnetsError(f"{model_path} does not exist. Fix: run `dvc repro export`.") from None
    except Exception as exc:  # onnxruntime's InvalidProtobuf, Fail, InvalidGraph, ...
        raise ConvnetsError(
            f"{model_path} is not a model onnxruntime can load ({type(exc).__name__}). "
            "Fix: run `dvc repro --force export`."
        ) from None
    return lambda images: onnx_logits(session, images, batch_size=len(images))


@dataclass(frozen=True)
class EngineReport:
    latency_ms: dict[str, float]  # batch 1: p50, p90, p99
    images_per_second: dict[str, float]  # by batch size
    test_accuracy: float


def latency(engine: Engine, images: np.ndarray, runs: int, warmup: int) -> dict[str, float]:
    """Percentiles of batch-1 latency in milliseconds, over `runs` different images."""
    for i in range(warmup):
        engine(images[i % len(images)][None])
    times = np.empty(runs)
    for i in range(runs):
        one = images[i % len(images)][None]
        start = time.perf_counter()
        engine(one)
        times[i] = time.perf_counter() - start
    return {f"p{q}": float(np.percentile(times, q) * 1000) for q in (50, 90, 99)}


def throughput(engine: Engine, images: np.ndarray, batch: int, runs: int, warmup: int) -> float:
    """Images per second at batch size `batch`, over `runs` timed calls."""
    chunk = np.ascontiguousarray(np.resize(images, (batch, *images.shape[1:])))
    for _ in range(warmup):
        engine(chunk)
    start = time.perf_counter()
    for _ in range(runs):
        engine(chunk)
    return batch * runs / (time.perf_counter() - start)


def measure(
    engine: Engine,
    images: np.ndarray,
    labels: np.ndarray,
    batch_sizes: list[int],
    latency_runs: int,
    throughput_runs: int,
    warmup: int,
) -> EngineReport:
    logits = np.concatenate([engine(images[s : s + 256]) for s in range(0, len(images), 256)])
    return EngineReport(
        latency_ms=latency(engine, images, latency_runs, warmup),
        images_per_second={
            str(b): throughput(engine, images, b, throughput_runs, max(1, warmup // 10))
            for b in batch_sizes
        },
        test_accuracy=float((logits.argmax(1) == labels).mean()),
    )
