"""Stage `compare`: a leaderboard of every variant, the best chosen by validation, and a summary."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from convnets import io
from convnets.config import Params
from convnets.evaluation.leaderboard import (
    choose_best,
    leaderboard,
    read_evaluations,
    write_leaderboard,
)
from convnets.evaluation.summary import decision_metrics, validation_curves
from convnets.figures.results import tradeoff_figure
from convnets.figures.style import save_figure

log = logging.getLogger(__name__)
CONFUSION = Path("plots/sklearn/confusion_matrix.json")  # where evaluate's dvclive writes it


def arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--evaluations", type=Path, required=True, help="folder of evaluate output folders")
    add("--timings", type=Path, required=True, help="folder of train output folders (dvclive)")
    add("--table", type=Path, required=True, help="leaderboard path, no suffix")
    add("--plot", type=Path, required=True, help="accuracy/cost PNG")
    add("--best", type=Path, required=True, help="best-variant JSON")
    add("--summary", type=Path, required=True, help="the decision metrics JSON (dvc exp show)")
    add("--curves", type=Path, required=True, help="every variant's validation curves, CSV")
    add("--confusion", type=Path, required=True, help="the chosen variant's confusion data")


def run(args: argparse.Namespace, params: Params) -> None:
    variants = list(params.variants)
    table = leaderboard(read_evaluations(args.evaluations, args.timings, variants))
    write_leaderboard(table, args.table)
    save_figure(tradeoff_figure(table), args.plot)
    best = choose_best(table)
    io.write_json(args.best, best)
    io.write_json(args.summary, decision_metrics(table, best))
    curves = validation_curves(args.timings, variants)
    with io.atomic_write(args.curves, "w") as handle:
        curves.to_csv(handle, index=False, float_format="%.6g")
    source = args.evaluations / best["variant"] / CONFUSION
    io.read_json(source, producer=f"evaluate@{best['variant']}")  # refuses a corrupt file
    with io.atomic_write(args.confusion) as handle:
        handle.write(source.read_bytes())
    log.info("best: %s (%s)", best["variant"], best["reason"])
