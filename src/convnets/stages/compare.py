"""Stage `compare`: a leaderboard of every variant, and the best one chosen by validation."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from convnets import io
from convnets.config import Params
from convnets.evaluation.leaderboard import choose_best, leaderboard, to_markdown
from convnets.figures.results import tradeoff_figure
from convnets.figures.style import save_figure

log = logging.getLogger(__name__)


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--evaluations",
        type=Path,
        required=True,
        help="folder with one evaluate output folder per variant",
    )
    parser.add_argument(
        "--timings",
        type=Path,
        required=True,
        help="folder with one train output folder (holding timing.json) per variant",
    )
    parser.add_argument("--table", type=Path, required=True, help="leaderboard path, no suffix")
    parser.add_argument("--plot", type=Path, required=True, help="accuracy/cost PNG")
    parser.add_argument("--best", type=Path, required=True, help="best-variant JSON")


def run(args: argparse.Namespace, params: Params) -> None:
    evaluations = {
        name: io.read_json(args.evaluations / name / "metrics.json", producer=f"evaluate@{name}")
        | {"train_seconds": _train_seconds(args.timings, name)}
        for name in params.variants
    }
    table = leaderboard(evaluations)
    with io.atomic_write(args.table.with_suffix(".csv"), "w") as handle:
        table.to_csv(handle, index=False, float_format="%.6g")
    with io.atomic_write(args.table.with_suffix(".md"), "w") as handle:
        handle.write(to_markdown(table))
    save_figure(tradeoff_figure(table), args.plot)
    best = choose_best(table)
    io.write_json(args.best, best)
    log.info("best: %s (%s)", best["variant"], best["reason"])


def _train_seconds(timings: Path, variant: str) -> float:
    """Training wall time lives beside the train metrics, not in them: it is not reproducible."""
    timing = io.read_json(timings / variant / "timing.json", producer=f"train@{variant}")
    return timing["train_seconds"]
