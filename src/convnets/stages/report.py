"""Stage `report`: reports/index.html, what the networks see, with the PNGs it shows."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from convnets import io
from convnets.config import Params
from convnets.data.prepared import load_prepared
from convnets.report.page import ReportInputs, build_report
from convnets.report.sections import Canvas, ReportSettings
from convnets.runtime import seed_everything

log = logging.getLogger(__name__)


def arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--prepared", type=Path, required=True, help="prepared .npz")
    add("--checkpoints", type=Path, required=True, help="folder of <variant>.pt checkpoints")
    add("--best", type=Path, required=True, help="best-variant JSON from compare")
    add("--leaderboard", type=Path, required=True, help="leaderboard CSV from compare")
    add("--tradeoff", type=Path, required=True, help="accuracy/cost PNG from compare")
    add("--corruptions", type=Path, required=True, help="accuracy/severity PNG from compare")
    add("--train-reports", type=Path, required=True, help="folder of dvclive folders")
    add("--evaluations", type=Path, required=True, help="folder of evaluate outputs")
    add("--preview", type=Path, required=True, help="augmentation preview PNG")
    add("--benchmark", type=Path, help="benchmark JSON (optional)")
    add("--benchmark-plot", type=Path, help="benchmark PNG (optional)")
    add("--export-metrics", type=Path, help="export's metrics JSON (optional)")
    add("--data-checks", type=Path, help="folder of data checks and label issues (optional)")
    add("--html", type=Path, required=True, help="the page to write")
    add("--figures", type=Path, required=True, help="folder for the page's PNGs")


def run(args: argparse.Namespace, params: Params) -> None:
    settings = ReportSettings(**params.report.model_dump(), seed=params.base.seed)
    inputs = ReportInputs(
        args.checkpoints, args.best, args.leaderboard, args.tradeoff, args.corruptions,
        args.train_reports,
        args.evaluations, args.preview, args.benchmark, args.benchmark_plot, args.export_metrics,
        args.data_checks,
    )  # fmt: skip
    data = load_prepared(args.prepared)
    seed_everything(params.base.seed, params.base.threads)
    canvas = Canvas(args.figures, args.html)
    html = build_report(inputs, data, list(params.variants), settings, canvas)
    with io.atomic_write(args.html, "w") as handle:
        handle.write(html)
    log.info("wrote %s", args.html)
