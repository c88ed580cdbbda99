"""Out-of-distribution image sets that ship offline, at a model's input size.

Nothing is downloaded: scikit-learn carries its handwritten digits (8x8, 1797 images) and two
sample photographs. Each set is uint8 (N, H, W, C) like the prepared data, then prepared the
way `convnets predict` prepares a file (`photos.prepare`), so the measured separation is the one
a user gets. For CIFAR-10 models the same sets come at 32x32 in colour.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from convnets.photos import prepare

SETS = ("digits", "photo_crops", "uniform_noise", "gaussian_noise", "blank")


def outlier_sets(
    height: int, width: int, channels: int, count: int, seed: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each set's prepared images (N, H, W, C) and whether an object was found in each, (N,)."""
    rng = np.random.default_rng(seed)
    raw = {
        "digits": _digits(count),
        "photo_crops": _photo_crops(count, rng),
        "uniform_noise": rng.integers(0, 256, (count, height, width, 3), dtype=np.uint8),
        "gaussian_noise": np.clip(rng.normal(128, 48, (count, height, width, 3)), 0, 255).astype(
            np.uint8
        ),
        "blank": np.broadcast_to(
            rng.integers(0, 256, (count, 1, 1, 3), dtype=np.uint8), (count, height, width, 3)
        ),
    }
    return {name: _prepared(images, height, width, channels) for name, images in raw.items()}


def _digits(count: int) -> np.ndarray:
    """scikit-learn's handwritten digits, 0-16 scaled to 0-255: light strokes on black."""
    from sklearn.datasets import load_digits

    images = load_digits().images[:count]  # (N, 8, 8) in 0..16
    grey = np.round(images * (255.0 / 16.0)).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=3)


def _photo_crops(count: int, rng: np.random.Generator) -> np.ndarray:
    """Square crops of random size and place from scikit-learn's two sample photographs."""
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images  # two (427, 640, 3) uint8
    crops = []
    for _ in range(count):
        photo = photos[rng.integers(len(photos))]
        side = int(rng.integers(48, min(photo.shape[:2])))
        top = int(rng.integers(photo.shape[0] - side + 1))
        left = int(rng.integers(photo.shape[1] - side + 1))
        crop = Image.fromarray(photo[top : top + side, left : left + side])
        crops.append(np.asarray(crop.resize((64, 64), Image.Resampling.BILINEAR)))
    return np.stack(crops)


def _prepared(images: np.ndarray, height: int, width: int, channels: int):
    prepared = [
        prepare(Image.fromarray(image), height, width, channels == 1, "auto") for image in images
    ]
    pixels = np.stack([p.pixels for p in prepared])
    return pixels, np.array([p.found for p in prepared])
