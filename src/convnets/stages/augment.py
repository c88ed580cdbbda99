"""Stage `augment`: seeded augmented copies of the training split, and a preview grid.

Validation and test images are never augmented; they are not even read here.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from convnets import io
from convnets.augment import AugmentSettings, augmented_copies
from convnets.config import AugmentConfig, Params
from convnets.data.prepared import load_prepared
from convnets.layout import to_nchw, to_nhwc
from convnets.visuals.data import augmentation_grid
from convnets.visuals.figures import save_figure

log = logging.getLogger(__name__)
HELP = "augmented copies of the training split, and a preview"
PREVIEW_DRAWS = 5


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prepared", type=Path, required=True, help="the prepared .npz")
    parser.add_argument("--out", type=Path, required=True, help="augmented training .npz")
    parser.add_argument("--preview", type=Path, required=True, help="preview PNG")


def settings_from(cfg: AugmentConfig) -> AugmentSettings:
    return AugmentSettings(cfg.crop_padding, cfg.flip, cfg.rotation_deg, cfg.erasing_p)


def run(args: argparse.Namespace, params: Params) -> None:
    data = load_prepared(args.prepared)
    cfg, seed = params.augment, params.base.seed
    settings = settings_from(cfg)
    originals = to_nchw(data.x_train)
    copies = to_nhwc(augmented_copies(originals, settings, cfg.copies, seed))
    x = np.concatenate([data.x_train, copies])
    y = np.concatenate([data.y_train] * (1 + cfg.copies))
    io.save_npz(args.out, x_train=x, y_train=y)
    log.info("augment: %d originals + %d copies", len(data.y_train), len(copies))

    shown = originals[: cfg.preview]
    draws = [
        to_nhwc(augmented_copies(shown, settings, 1, seed + draw))
        for draw in range(1, PREVIEW_DRAWS + 1)
    ]
    names = [data.classes[label] for label in data.y_train[: cfg.preview]]
    save_figure(augmentation_grid(to_nhwc(shown), draws, names), args.preview)
