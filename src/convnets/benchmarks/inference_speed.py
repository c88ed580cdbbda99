"""The inference benchmark: PyTorch eager against onnxruntime fp32 and int8, judged by targets."""

from __future__ import annotations

import logging
import platform
from pathlib import Path

import torch

from convnets.benchmarks.engines import measure, onnx_engine, torch_engine
from convnets.benchmarks.verdicts import judge
from convnets.config import BenchmarkConfig
from convnets.data.prepared import PreparedData
from convnets.runtime import cpu_flags
from convnets.versions import library_versions

log = logging.getLogger(__name__)


def benchmark(
    model: torch.nn.Module,
    onnx_files: dict[str, Path],
    data: PreparedData,
    cfg: BenchmarkConfig,
    threads: int,
) -> dict:
    """Every engine on the test split with the same threads; `onnx_files` has fp32 and int8."""
    engines = {
        "pytorch_eager": torch_engine(model),
        "onnxruntime_fp32": onnx_engine(onnx_files["fp32"], threads),
        "onnxruntime_int8": onnx_engine(onnx_files["int8"], threads),
    }
    if cfg.torch_compile:
        engines["pytorch_compile"] = torch_engine(model, compile_model=True)
    reports = {}
    for name, engine in engines.items():
        log.info("timing %s", name)
        report = measure(
            engine,
            data.x_test,
            data.y_test,
            cfg.batch_sizes,
            cfg.latency_runs,
            cfg.throughput_runs,
            cfg.warmup,
        )
        reports[name] = vars(report)
    ratios, verdicts = judge(reports, str(max(cfg.batch_sizes)))
    return {
        "engines": reports,
        "ratios": ratios,
        "verdicts": verdicts,
        "threads": {"torch": torch.get_num_threads(), "onnxruntime_intra_op": threads},
        "cpu": {"machine": platform.machine(), "flags": cpu_flags()},
        "versions": library_versions(),
    }
