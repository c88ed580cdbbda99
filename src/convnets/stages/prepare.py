"""Stage `prepare`: decode, split train/validation, write arrays and their summary."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from convnets import io
from convnets.config import Params
from convnets.data.datasets import get_dataset
from convnets.data.decode import decode
from convnets.data.prepared import make_splits, save_prepared, summarize
from convnets.versions import library_versions

log = logging.getLogger(__name__)


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--raw", type=Path, required=True, help="the download stage's folder")
    parser.add_argument("--out", type=Path, required=True, help="the prepared .npz to write")
    parser.add_argument("--summary", type=Path, required=True, help="summary JSON to write")


def run(args: argparse.Namespace, params: Params) -> None:
    spec = get_dataset(params.base.dataset)
    train, test = decode(args.raw, spec)
    cfg = params.prepare
    data = make_splits(
        train, test, spec.classes, cfg.val_fraction, cfg.subset, params.base.seed, spec.name
    )
    summary = summarize(data) | {"versions": library_versions()}
    save_prepared(args.out, data)
    io.write_json(args.summary, summary)
    log.info("prepared %s: %s", spec.name, summary["sizes"])
