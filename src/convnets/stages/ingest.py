"""Stage `ingest@<name>`: a folder of your own labelled pictures, checked and decoded.

Runs only for the folders listed under `folders` in params.yaml; `prepare` reads its output
when `base.dataset` names that folder.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from convnets.config import Params
from convnets.data.decoding import Decoding, decode_folder
from convnets.data.folder import list_folder
from convnets.data.ingested import assemble, save_ingested
from convnets.errors import ConvnetsError

log = logging.getLogger(__name__)


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--folder", required=True, help="a key of `folders` in params.yaml")
    parser.add_argument("--images", type=Path, required=True, help="the folder of pictures")
    parser.add_argument("--out", type=Path, required=True, help="the ingested .npz to write")


def run(args: argparse.Namespace, params: Params) -> None:
    if args.folder not in params.folders:
        raise ConvnetsError(
            f"folder dataset {args.folder!r} is not in params.yaml folders "
            f"({', '.join(params.folders) or 'none'}). Fix: add it there."
        )
    cfg = params.folders[args.folder]
    listing = list_folder(args.images)  # the folder's shape is refused before any decoding
    height, width = cfg.size
    decoding = Decoding(height, width, cfg.channels, cfg.framing, cfg.bad_files)
    started = time.perf_counter()
    decoded = decode_folder(listing, decoding, params.base.threads)
    seconds = time.perf_counter() - started
    data = assemble(
        args.images, listing, decoded, cfg.framing, cfg.test_fraction, cfg.min_per_class,
        params.base.seed,
    )  # fmt: skip
    save_ingested(args.out, data)
    log.info(
        "ingest %s: %d pictures of %d classes, %s, in %.1f s (%.0f pictures/s, %d processes); "
        "%d note(s) for prepare's data checks",
        args.folder, len(data.labels), len(data.classes), data.images.shape[1:], seconds,
        len(listing.files) / max(seconds, 1e-9), params.base.threads, len(data.notes),
    )  # fmt: skip
