"""Stage `model_card`: reports/model_card.md, what the shipped model is, is for and how it fails,
from the artifacts of the stages before it, with its failure examples as a PNG beside it."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from convnets import io
from convnets.card.facts import CardInputs, gather
from convnets.card.markdown import render_card
from convnets.config import Params
from convnets.data.datasets import get_dataset
from convnets.data.prepared import load_prepared
from convnets.figures.confusions import confused_pairs_figure
from convnets.figures.style import save_figure

log = logging.getLogger(__name__)


def arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--evaluation", type=Path, required=True, help="compare's copy of the best's evaluation")
    add("--raw", type=Path, required=True, help="download's folder, with its manifest")
    add("--prepared", type=Path, required=True, help="prepared .npz (the failure examples)")
    add("--confusion", type=Path, required=True, help="compare's per-image confusion JSON")
    add("--export-metrics", type=Path, required=True, help="export's metrics JSON")
    add("--benchmark", type=Path, required=True, help="benchmark JSON")
    add("--onnx", type=Path, required=True, help="the shipped fp32 ONNX model")
    add("--checks", type=Path, required=True, help="prepare's data checks JSON")
    add("--out", type=Path, required=True, help="the card to write (Markdown)")
    add("--failures", type=Path, required=True, help="PNG of the failure examples")


def run(args: argparse.Namespace, params: Params) -> None:
    folder = params.folder
    subject = folder.subject if folder else get_dataset(params.base.dataset).subject
    inputs = CardInputs(
        args.evaluation, args.raw, args.confusion, args.export_metrics,
        args.benchmark, args.onnx, args.checks, subject,
    )  # fmt: skip
    facts = gather(inputs, params.export.max_int8_drop)
    data = load_prepared(args.prepared)
    title = f"{facts['variant']}: the most frequent confusions on the test split"
    save_figure(confused_pairs_figure(data.x_test, facts["confusions"], title), args.failures)
    link = Path(os.path.relpath(args.failures, args.out.parent)).as_posix()
    with io.atomic_write(args.out, "w") as handle:
        handle.write(render_card(facts, link))
    log.info("wrote %s", args.out)
