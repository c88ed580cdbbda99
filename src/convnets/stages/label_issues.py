"""Stage `label_issues`: likely label errors in the validation and test splits, by confident
learning (cleanlab) on the chosen variant's out-of-sample probabilities from `evaluate`, as
compare copies them."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from convnets import io
from convnets.config import Params
from convnets.data.prepared import load_prepared
from convnets.evaluation.confident_learning import find_label_issues, summarize, too_few
from convnets.figures.mislabelled import label_issues_figure
from convnets.figures.style import save_figure

log = logging.getLogger(__name__)
SPLITS = ("val", "test")  # out of sample: the model trained on neither


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--evaluation", type=Path, required=True, help="compare's copy of the best")
    parser.add_argument("--prepared", type=Path, required=True, help="the prepared .npz")
    parser.add_argument("--out", type=Path, required=True, help="label issues JSON to write")
    parser.add_argument("--figure", type=Path, required=True, help="PNG of the top issues")


def run(args: argparse.Namespace, params: Params) -> None:
    variant = io.read_json(args.evaluation / "metrics.json", producer="compare")["variant"]
    data = load_prepared(args.prepared)
    scores = io.load_npz(args.evaluation / "probabilities.npz", SPLITS, producer="compare")
    # Capsule lengths are per-class presence, not a distribution: normalised to sum to 1.
    probabilities = {split: _normalised(scores[split]) for split in SPLITS}
    labels = {split: data.split(split)[1] for split in SPLITS}
    skipped = too_few(labels, len(data.classes))  # a small folder: report why, do not fail
    issues = [] if skipped else find_label_issues(probabilities, labels)
    sizes = {split: len(labels[split]) for split in SPLITS}
    summary = summarize(issues, sizes, data.classes) | {"variant": variant, "skipped": skipped}
    io.write_json(args.out, summary)
    images = {split: data.split(split)[0] for split in SPLITS}
    if skipped:
        figure = label_issues_figure(images, [], data.classes, 0, f"not checked: {skipped}")
    else:
        figure = label_issues_figure(images, issues, data.classes, params.evaluate.mistakes)
    save_figure(figure, args.figure)
    log.info("label issues: %d of %d val and test images flagged", len(issues), sum(sizes.values()))


def _normalised(scores: np.ndarray) -> np.ndarray:
    scores = scores.astype(np.float64)
    return scores / scores.sum(axis=1, keepdims=True)
