"""What `evaluate@<variant>` and `corruptions@<variant>` both start from: the variant's
checkpoint, checked against the prepared data, seeded, on an fp32 runtime (exact numbers)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from convnets.config import Params
from convnets.data.prepared import PreparedData, load_prepared
from convnets.models.checkpoint import Checkpoint, load_trained
from convnets.runtime import Runtime, resolve_runtime, seed_everything


def variant_arguments(parser: argparse.ArgumentParser, out: str) -> None:
    """The stage's options; `out` says what it writes."""
    parser.add_argument("--variant", required=True, help="a key of `variants` in params.yaml")
    parser.add_argument("--checkpoint", type=Path, required=True, help="the variant's checkpoint")
    parser.add_argument("--prepared", type=Path, required=True, help="prepared .npz")
    parser.add_argument("--out", type=Path, required=True, help=out)


@dataclass(frozen=True)
class ScoredVariant:
    data: PreparedData
    checkpoint: Checkpoint
    runtime: Runtime


def load_variant(args: argparse.Namespace, params: Params) -> ScoredVariant:
    """An unknown variant fails before any work; a checkpoint of other data fails on loading."""
    params.variant(args.variant)
    data = load_prepared(args.prepared)
    checkpoint = load_trained(args.checkpoint, f"train@{args.variant}", data)
    seed_everything(params.base.seed, params.base.threads)
    runtime = resolve_runtime(params.base.device, "fp32", params.base.threads)
    return ScoredVariant(data, checkpoint, runtime)
