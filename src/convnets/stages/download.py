"""Stage `download`: fetch and verify the dataset's upstream files.

A folder of the user's own pictures has nothing to fetch: `ingest@<name>` reads it, and this
stage only records where it is, so the model card can say where its data came from.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from convnets import io
from convnets.config import Params
from convnets.data.datasets import get_dataset, with_checksums
from convnets.data.fetch import MANIFEST, default_sources, download_dataset

log = logging.getLogger(__name__)


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="folder for the payloads")


def run(args: argparse.Namespace, params: Params) -> None:
    if params.folder is not None:
        with io.atomic_folder(args.out) as out:
            record = {"dataset": params.base.dataset, "folder": params.folder.path, "files": {}}
            io.write_json(out / MANIFEST, record)
        log.info("%s is a folder of your own pictures: nothing to download", params.base.dataset)
        return
    spec = with_checksums(get_dataset(params.base.dataset), params.download.checksums)
    sources = default_sources(spec, params.download.local_dirs, params.download.mirrors)
    manifest = download_dataset(spec, args.out, sources, params.download.timeout_s)
    log.info("%s: %d verified files in %s", spec.name, len(manifest["files"]), args.out)
