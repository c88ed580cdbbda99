"""Stage `prepare`: decode (or read the ingested folder), split, check, write arrays and reports."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from convnets import io
from convnets.config import Params
from convnets.data.checks import check_data, markdown
from convnets.data.datasets import get_dataset
from convnets.data.decode import Split, decode
from convnets.data.duplicates import pixel_digests
from convnets.data.ingested import load_ingested
from convnets.data.prepared import make_splits, save_prepared, summarize
from convnets.figures.balance import balance_figure
from convnets.figures.style import save_figure
from convnets.versions import library_versions

log = logging.getLogger(__name__)


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--raw", type=Path, required=True, help="the download stage's folder")
    parser.add_argument("--ingested", type=Path, required=True, help="ingest's folder of .npz")
    parser.add_argument("--out", type=Path, required=True, help="the prepared .npz to write")
    parser.add_argument("--summary", type=Path, required=True, help="summary JSON to write")
    parser.add_argument("--checks", type=Path, required=True, help="folder for the data checks")


def run(args: argparse.Namespace, params: Params) -> None:
    name, cfg = params.base.dataset, params.prepare
    train, test, classes, framing, notes, files = _source(args, params)
    seed = params.base.seed
    data = make_splits(train, test, classes, cfg.val_fraction, cfg.subset, seed, name, framing)
    data, checks = check_data(data, notes, cfg.near_duplicate_bits, cfg.drop_test_duplicates, files)
    summary = summarize(data) | {"versions": library_versions()}
    save_prepared(args.out, data)
    io.write_json(args.summary, summary)
    io.write_json(args.checks / "checks.json", checks.summary())
    with io.atomic_write(args.checks / "checks.md", "w") as handle:
        handle.write(markdown(checks, name))
    save_figure(balance_figure(checks.balance), args.checks / "balance.png")
    log.info("prepared %s: %s; %d data check note(s)", name, summary["sizes"], len(checks.notes))


def _source(args: argparse.Namespace, params: Params):
    """(train, test, classes, framing, notes, files by source and digest) of the dataset."""
    name = params.base.dataset
    if params.folder is None:
        spec = get_dataset(name)
        train, test = decode(args.raw, spec)
        return train, test, spec.classes, "object", (), None
    ingested = load_ingested(args.ingested / f"{name}.npz")
    train: Split = ingested.split(test=False)
    test: Split = ingested.split(test=True)
    files = ingested.files_by_digest(pixel_digests(ingested.images).tolist())
    return train, test, ingested.classes, ingested.framing, ingested.notes, files
