"""Stage `benchmark`: PyTorch eager against onnxruntime fp32 and int8 on the same test images."""

from __future__ import annotations

import argparse
import logging
import platform
from pathlib import Path

import torch

from convnets import bench, io
from convnets.checkpoint import load_checkpoint
from convnets.config import Params
from convnets.data.prepared import load_prepared
from convnets.runtime import seed_everything
from convnets.versions import library_versions
from convnets.visuals.benchmark import benchmark_figure
from convnets.visuals.figures import save_figure

log = logging.getLogger(__name__)
HELP = "time PyTorch and onnxruntime (fp32, int8) on the same images and threads"
TARGETS = {"onnx_fp32_over_pytorch_batch1": 3.0, "int8_over_fp32_largest_batch": 1.5}


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--best", type=Path, required=True, help="compare's best.json")
    parser.add_argument("--checkpoints", type=Path, required=True, help="folder of <variant>.pt")
    parser.add_argument("--onnx", type=Path, required=True, help="fp32 ONNX model")
    parser.add_argument("--int8", type=Path, required=True, help="int8 ONNX model")
    parser.add_argument("--prepared", type=Path, required=True, help="prepared .npz")
    parser.add_argument("--out", type=Path, required=True, help="benchmark JSON to write")
    parser.add_argument("--plot", type=Path, required=True, help="benchmark PNG to write")


def run(args: argparse.Namespace, params: Params) -> None:
    variant = io.read_json(args.best, producer="compare")["variant"]
    checkpoint = args.checkpoints / f"{variant}.pt"
    model = load_checkpoint(checkpoint, f"train@{variant}").build()
    data = load_prepared(args.prepared)
    seed_everything(params.base.seed, params.base.threads)
    threads, cfg = params.base.threads, params.benchmark
    engines = {
        "pytorch_eager": bench.torch_engine(model),
        "onnxruntime_fp32": bench.onnx_engine(args.onnx, threads),
        "onnxruntime_int8": bench.onnx_engine(args.int8, threads),
    }
    if cfg.torch_compile:
        engines["pytorch_compile"] = bench.torch_engine(model, compile_model=True)
    reports = {}
    for name, engine in engines.items():
        log.info("timing %s", name)
        reports[name] = vars(
            bench.measure(
                engine,
                data.x_test,
                data.y_test,
                cfg.batch_sizes,
                cfg.latency_runs,
                cfg.throughput_runs,
                cfg.warmup,
            )
        )
    ratios, verdicts = _judge(reports, str(max(cfg.batch_sizes)))
    result = {
        "variant": variant,
        "engines": reports,
        "ratios": ratios,
        "verdicts": verdicts,
        "file_bytes": {
            "checkpoint": checkpoint.stat().st_size,
            "onnx_fp32": args.onnx.stat().st_size,
            "onnx_int8": args.int8.stat().st_size,
        },
        "threads": {"torch": torch.get_num_threads(), "onnxruntime_intra_op": threads},
        "cpu": {"machine": platform.machine(), "flags": bench.cpu_flags()},
        "versions": library_versions(),
    }
    io.write_json(args.out, result)
    save_figure(benchmark_figure(reports), args.plot)
    for line in verdicts:
        log.info("%s", line)


def _judge(reports: dict, largest: str) -> tuple[dict, list[str]]:
    """The ratios the targets are about, and a plain sentence for each, met or not."""
    eager, fp32, int8 = (
        reports[k] for k in ("pytorch_eager", "onnxruntime_fp32", "onnxruntime_int8")
    )
    ratios = {
        "onnx_fp32_over_pytorch_batch1": eager["latency_ms"]["p50"] / fp32["latency_ms"]["p50"],
        "int8_over_fp32_largest_batch": (
            int8["images_per_second"][largest] / fp32["images_per_second"][largest]
        ),
        "int8_accuracy_drop_points": (fp32["test_accuracy"] - int8["test_accuracy"]) * 100,
    }
    verdicts = []
    for key, target in TARGETS.items():
        met = "met" if ratios[key] >= target else "NOT met"
        verdicts.append(f"{key} = {ratios[key]:.2f}x (target {target}x): {met}")
    if ratios["int8_over_fp32_largest_batch"] < 1:
        verdicts.append(f"int8 is slower than fp32 at batch {largest} for this model")
    return ratios, verdicts
