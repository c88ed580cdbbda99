"""Stage `download`: fetch and verify the dataset's upstream files."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from convnets.config import Params
from convnets.data.datasets import get_dataset, with_checksums
from convnets.data.fetch import default_sources, download_dataset

log = logging.getLogger(__name__)


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="folder for the payloads")


def run(args: argparse.Namespace, params: Params) -> None:
    spec = with_checksums(get_dataset(params.base.dataset), params.download.checksums)
    sources = default_sources(spec, params.download.local_dirs, params.download.mirrors)
    manifest = download_dataset(spec, args.out, sources, params.download.timeout_s)
    log.info("%s: %d verified files in %s", spec.name, len(manifest["files"]), args.out)
