"""Stage `report`: reports/index.html, what the networks see, with the PNGs it shows.

The inside-view sections look at the best variant by validation (models/best.json); when that
one has no convolutions (an MLP), at the best convolutional variant instead, and say so.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import pandas as pd

from convnets import io, report
from convnets.checkpoint import check_matches_data, load_checkpoint
from convnets.config import Params
from convnets.data.prepared import load_prepared
from convnets.errors import ConvnetsError
from convnets.inspection import conv_layers
from convnets.runtime import seed_everything
from convnets.visuals.curves import read_curves
from convnets.visuals.html import render

log = logging.getLogger(__name__)
HELP = "render the visual report (reports/index.html) of data, filters and trained models"


def arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--prepared", type=Path, required=True, help="prepared .npz")
    add("--checkpoints", type=Path, required=True, help="folder of <variant>.pt checkpoints")
    add("--best", type=Path, required=True, help="best-variant JSON from compare")
    add("--leaderboard", type=Path, required=True, help="leaderboard CSV from compare")
    add("--tradeoff", type=Path, required=True, help="accuracy/cost PNG from compare")
    add("--train-reports", type=Path, required=True, help="folder of dvclive folders")
    add("--evaluations", type=Path, required=True, help="folder of evaluate outputs")
    add("--preview", type=Path, required=True, help="augmentation preview PNG")
    add("--benchmark", type=Path, help="benchmark JSON (optional)")
    add("--benchmark-plot", type=Path, help="benchmark PNG (optional)")
    add("--html", type=Path, required=True, help="the page to write")
    add("--figures", type=Path, required=True, help="folder for the page's PNGs")


def settings(params: Params) -> report.ReportSettings:
    cfg = params.report
    return report.ReportSettings(**cfg.model_dump(), seed=params.base.seed)


def run(args: argparse.Namespace, params: Params) -> None:
    s = settings(params)
    data = load_prepared(args.prepared)
    if s.sample_index >= len(data.y_test):
        raise ConvnetsError(
            f"report.sample_index is {s.sample_index} but the test split has {len(data.y_test)} "
            "images. Fix: `dvc exp run -S report.sample_index=0`."
        )
    seed_everything(params.base.seed, params.base.threads)
    leaderboard = _read_csv(args.leaderboard)
    best = io.read_json(args.best, producer="compare")
    subject = choose_subject(args, params, data, leaderboard, best["variant"])
    canvas = report.Canvas(args.figures, args.html)
    builders = [
        lambda: report.data_section(canvas, data, args.preview, s),
        lambda: report.filters_section(canvas, data, s),
        lambda: report.shapes_section(canvas, data, s),
    ]
    if subject is not None:
        log.info("looking inside %s (%s)", subject.variant, subject.why)
        builders += [
            lambda: report.learned_section(canvas, subject, data, s),
            lambda: report.patches_section(canvas, subject, data, s),
            lambda: report.attribution_section(canvas, subject, data, s),
            lambda: report.projection_section(canvas, subject, data, s),
            lambda: report.maximization_section(canvas, subject, s),
        ]
    results = _results(args, params, leaderboard, best)
    builders.append(lambda: report.results_section(canvas, results))
    capsnet = best_of_model(args, params, data, leaderboard, "capsnet")
    if capsnet is not None:
        builders.append(lambda: report.capsule_section(canvas, capsnet, data))
    sections = [_timed(build) for build in builders]
    title = f"convnets report: {params.base.dataset}"
    summary = _summary(params, best, subject)
    with io.atomic_write(args.html, "w") as handle:
        handle.write(render(title, summary, sections))
    log.info("wrote %s with %d sections", args.html, len(sections))


def _timed(build) -> report.Section:
    start = time.perf_counter()
    section = build()
    log.info("%s: %.1f s", section.title, time.perf_counter() - start)
    return section


def choose_subject(args, params: Params, data, leaderboard: pd.DataFrame, best: str):
    """The best variant with convolutions, in leaderboard order (best validation first)."""
    for variant in leaderboard["variant"]:
        model, ckpt = _load(args, params, data, variant)
        if conv_layers(model):
            why = "the best variant" if variant == best else f"{best} has no convolutions"
            return report.Subject(variant, ckpt, model, why)
    log.warning("no variant has convolutions: sections 4 to 8 are left out")
    return None


def best_of_model(args, params: Params, data, leaderboard: pd.DataFrame, model_name: str):
    """The best variant built from `model_name` (e.g. capsnet), or None when none is."""
    for variant in leaderboard["variant"]:
        if params.variant(variant).model == model_name:
            model, ckpt = _load(args, params, data, variant)
            return report.Subject(variant, ckpt, model, f"the best {model_name}")
    return None


def _load(args, params: Params, data, variant: str):
    """A variant's model (eval, float32) and checkpoint, checked against the data at hand."""
    height, width, channels = data.image_shape
    producer = f"train@{variant}"
    path = args.checkpoints / f"{variant}.pt"
    ckpt = load_checkpoint(path, producer)
    check_matches_data(
        ckpt, path, params.base.dataset, (channels, height, width), data.classes, producer
    )
    return ckpt.build().float(), ckpt


def _results(args, params: Params, leaderboard: pd.DataFrame, best: dict) -> report.Results:
    benchmark = None
    if args.benchmark is not None and args.benchmark.is_file():
        benchmark = io.read_json(args.benchmark, producer="benchmark")
    plot = args.benchmark_plot if args.benchmark_plot and args.benchmark_plot.is_file() else None
    return report.Results(
        curves={v: read_curves(args.train_reports / v) for v in params.variants},
        leaderboard=leaderboard,
        best=best,
        confusion=args.evaluations / best["variant"] / "confusion.png",
        tradeoff=args.tradeoff,
        benchmark=benchmark,
        benchmark_plot=plot,
    )


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ConvnetsError(
            f"{path} is unreadable ({exc}). Fix: run `dvc repro compare`."
        ) from None


def _summary(params: Params, best: dict, subject) -> str:
    inside = f" The inside views show {subject.variant}." if subject else ""
    return (
        f"Dataset {params.base.dataset}, seed {params.base.seed}, {len(params.variants)} "
        f"variants; best by validation: {best['variant']} "
        f"({best['test_accuracy'] * 100:.2f}% test accuracy).{inside} "
        "Every figure is regenerated by `dvc repro report` from params.yaml."
    )
