"""Stage `benchmark`: PyTorch eager against onnxruntime fp32 and int8 on the same test images."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from convnets import io
from convnets.benchmarks.inference_speed import benchmark
from convnets.benchmarks.verdicts import headline
from convnets.config import Params
from convnets.data.prepared import load_prepared
from convnets.figures.latency import benchmark_figure
from convnets.figures.style import save_figure
from convnets.models.checkpoint import load_trained
from convnets.runtime import seed_everything

log = logging.getLogger(__name__)


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", type=Path, required=True, help="compare's copy of the best")
    parser.add_argument("--onnx", type=Path, required=True, help="fp32 ONNX model")
    parser.add_argument("--int8", type=Path, required=True, help="int8 ONNX model")
    parser.add_argument("--prepared", type=Path, required=True, help="prepared .npz")
    parser.add_argument("--out", type=Path, required=True, help="benchmark JSON to write")
    parser.add_argument("--plot", type=Path, required=True, help="benchmark PNG to write")
    parser.add_argument("--summary", type=Path, required=True, help="headline metrics JSON")


def run(args: argparse.Namespace, params: Params) -> None:
    data = load_prepared(args.prepared)
    ckpt = load_trained(args.checkpoint, "compare", data)
    model = ckpt.build()
    seed_everything(params.base.seed, params.base.threads)
    files = {"fp32": args.onnx, "int8": args.int8}
    result = benchmark(model, files, data, params.benchmark, params.base.threads)
    sizes = {"checkpoint": args.checkpoint.stat().st_size}
    sizes |= {f"onnx_{name}": path.stat().st_size for name, path in files.items()}
    io.write_json(args.out, {"variant": ckpt.variant, **result, "file_bytes": sizes})
    io.write_json(args.summary, headline(result["engines"], result["ratios"]))
    save_figure(benchmark_figure(result["engines"]), args.plot)
    for line in result["verdicts"]:
        log.info("%s", line)
