"""Stage `compare`: a leaderboard of every variant, the best chosen by validation, a summary, and
byte-for-byte copies of the best's checkpoint and evaluation: the stages after compare read those
alone, so an experiment on another variant reruns none of them."""

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
BEST_EVALUATION = ("metrics.json", "per_class.json", "probabilities.npz")  # what later stages read


def arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--evaluations", type=Path, required=True, help="folder of evaluate output folders")
    add("--timings", type=Path, required=True, help="folder of train output folders (dvclive)")
    add("--checkpoints", type=Path, required=True, help="folder of <variant>.pt")
    add("--table", type=Path, required=True, help="leaderboard path, no suffix")
    add("--plot", type=Path, required=True, help="accuracy/cost PNG")
    add("--best", type=Path, required=True, help="best-variant JSON")
    add("--summary", type=Path, required=True, help="the decision metrics JSON (dvc exp show)")
    add("--curves", type=Path, required=True, help="every variant's validation curves, CSV")
    add("--confusion", type=Path, required=True, help="the chosen variant's confusion data")
    add("--best-checkpoint", type=Path, required=True, help="copy of the best's checkpoint")
    add("--best-evaluation", type=Path, required=True, help="folder: copy of the best's metrics")


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
    variant, evaluation = best["variant"], args.evaluations / best["variant"]
    io.read_json(evaluation / CONFUSION, producer=f"evaluate@{variant}")  # refuses a corrupt file
    io.copy_file(evaluation / CONFUSION, args.confusion, f"evaluate@{variant}")
    for name in BEST_EVALUATION:
        io.copy_file(evaluation / name, args.best_evaluation / name, f"evaluate@{variant}")
    io.copy_file(args.checkpoints / f"{variant}.pt", args.best_checkpoint, f"train@{variant}")
    log.info("best: %s (%s)", best["variant"], best["reason"])
