"""Stage `compare`: a leaderboard of every variant, the best chosen by validation, a summary, and
byte-for-byte copies of the best's checkpoint and evaluation: the stages after compare read those
alone, so an experiment on another variant reruns none of them."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from convnets import io
from convnets.config import Params
from convnets.evaluation import leaderboard as board
from convnets.evaluation.best_copies import Sources, Targets, copy_best
from convnets.evaluation.summary import decision_metrics, validation_curves
from convnets.figures.results import tradeoff_figure
from convnets.figures.severity import corruption_figure
from convnets.figures.style import save_figure

log = logging.getLogger(__name__)


def arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--evaluations", type=Path, required=True, help="folder of evaluate output folders")
    add("--timings", type=Path, required=True, help="folder of train output folders (dvclive)")
    add("--corruptions", type=Path, required=True, help="folder of <variant>.json (corruptions)")
    add("--corruption-plot", type=Path, required=True, help="accuracy/severity PNG")
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
    found = board.read_evaluations(args.evaluations, args.timings, args.corruptions, variants)
    table = board.leaderboard(found)
    board.write_leaderboard(table, args.table)
    save_figure(tradeoff_figure(table), args.plot)
    robust = {str(v): found[v]["corruptions"] for v in table["variant"]}
    save_figure(corruption_figure(robust), args.corruption_plot)
    best = board.choose_best(table)
    io.write_json(args.best, best)
    io.write_json(args.summary, decision_metrics(table, best))
    curves = validation_curves(args.timings, variants)
    with io.atomic_write(args.curves, "w") as handle:
        curves.to_csv(handle, index=False, float_format="%.6g")
    sources = Sources(args.evaluations, args.corruptions, args.checkpoints)
    targets = Targets(args.confusion, args.best_evaluation, args.best_checkpoint)
    copy_best(best["variant"], sources, targets)
    log.info("best: %s (%s)", best["variant"], best["reason"])
