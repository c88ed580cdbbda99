"""Stage `augment`: seeded augmented copies of the training split, and a preview grid.

Validation and test images are never augmented; they are not even read here.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from convnets.config import Params
from convnets.data.augmentation import AugmentSettings, augmented_copies
from convnets.data.prepared import load_prepared, save_augmented
from convnets.data.tensors import to_nchw, to_nhwc
from convnets.figures.samples import augmentation_grid
from convnets.figures.style import save_figure

log = logging.getLogger(__name__)
PREVIEW_DRAWS = 5


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prepared", type=Path, required=True, help="the prepared .npz")
    parser.add_argument("--out", type=Path, required=True, help="augmented training .npz")
    parser.add_argument("--preview", type=Path, required=True, help="preview PNG")


def run(args: argparse.Namespace, params: Params) -> None:
    data = load_prepared(args.prepared)
    cfg, seed = params.augment, params.base.seed
    settings = AugmentSettings.from_config(cfg)
    originals = to_nchw(data.x_train)
    copies = to_nhwc(augmented_copies(originals, settings, cfg.copies, seed))
    x = np.concatenate([data.x_train, copies])
    y = np.concatenate([data.y_train] * (1 + cfg.copies))
    save_augmented(args.out, data, x, y)
    log.info("augment: %d originals + %d copies", len(data.y_train), len(copies))

    shown = originals[: cfg.preview]
    draws = [
        to_nhwc(augmented_copies(shown, settings, 1, seed + draw))
        for draw in range(1, PREVIEW_DRAWS + 1)
    ]
    names = [data.classes[label] for label in data.y_train[: cfg.preview]]
    save_figure(augmentation_grid(to_nhwc(shown), draws, names), args.preview)
