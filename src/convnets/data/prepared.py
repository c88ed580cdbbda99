"""The prepared dataset: seeded stratified train/validation split, untouched test set, stats.

This is the contract between `prepare` and every later stage: one `.npz` of uint8 NHWC arrays,
int64 labels, and what they are (dataset name, class names, image shape), loaded without pickle.
Later stages read what the data are from the file, never from `base.dataset`. The augmented
file describes itself the same way, and `load_augmented` checks that it matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convnets import io
from convnets.errors import ConvnetsError

SPLITS = ("train", "val", "test")
_ARRAYS = tuple(f"{kind}_{split}" for split in SPLITS for kind in ("x", "y"))
_DESCRIPTION = ("dataset", "classes", "image_shape")


@dataclass(frozen=True)
class PreparedData:
    x_train: np.ndarray  # uint8 (N, H, W, C)
    y_train: np.ndarray  # int64 (N,)
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]
    dataset: str  # the registry name, e.g. fashion-mnist, or the name of a folder dataset
    framing: str = "object"  # how predict fits a picture: photos.FRAMINGS (object: built-ins)

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])  # (H, W, C)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        height, width, channels = self.image_shape
        return channels, height, width  # (C, H, W), as models and checkpoints say it


def cap_per_class(
    images: np.ndarray, labels: np.ndarray, cap: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Keep at most `cap` seeded-random images of each class (0 keeps all), in original order."""
    if cap == 0:
        return images, labels
    rng = np.random.default_rng(seed)
    keep = np.concatenate(
        [rng.permutation(np.flatnonzero(labels == c))[:cap] for c in np.unique(labels)]
    )
    keep.sort()
    return images[keep], labels[keep]


def make_splits(
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    classes: tuple[str, ...],
    val_fraction: float,
    subset: int,
    seed: int,
    dataset: str,
    framing: str = "object",
) -> PreparedData:
    """Stratified, seeded validation split of upstream's train set; test only capped by `subset`."""
    x, y = cap_per_class(*train, subset, seed)
    x_test, y_test = cap_per_class(*test, subset, seed + 1)
    n_val = round(len(y) * val_fraction)
    if n_val < len(classes) or len(y) - n_val < len(classes):
        raise ConvnetsError(
            f"prepare.val_fraction={val_fraction} of {len(y)} images leaves {n_val} for validation "
            f"and {len(y) - n_val} for training; each needs at least one image per class "
            f"({len(classes)}). Fix: raise prepare.subset or choose a val_fraction nearer 0.5."
        )
    # Imported here, not at the top: every stage loads prepared data, only prepare splits it,
    # and scikit-learn's import costs seconds per stage process.
    from sklearn.model_selection import train_test_split

    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=n_val, stratify=y, random_state=seed, shuffle=True
    )
    return PreparedData(
        x_train, y_train, x_val, y_val, x_test, y_test, tuple(classes), dataset, framing
    )


def channel_stats(images: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 NHWC images on the [0, 1] scale, in float64."""
    scaled = images.reshape(-1, images.shape[-1]).astype(np.float64) / 255.0
    return scaled.mean(axis=0).tolist(), scaled.std(axis=0).tolist()


def summarize(data: PreparedData) -> dict:
    """Counts per class and split, and the training split's normalization statistics."""
    mean, std = channel_stats(data.x_train)
    counts = {
        split: {
            name: int(np.sum(data.split(split)[1] == index))
            for index, name in enumerate(data.classes)
        }
        for split in SPLITS
    }
    return {
        "dataset": data.dataset,
        "classes": list(data.classes),
        "image_shape": list(data.image_shape),
        "sizes": {split: len(data.split(split)[1]) for split in SPLITS},
        "counts": counts,
        "normalization": {"mean": mean, "std": std},
    }


def save_prepared(path: Path, data: PreparedData) -> None:
    arrays = {key: getattr(data, key) for key in _ARRAYS}
    description = _description(data.dataset, data.classes, data.image_shape)
    framing = {"framing": np.array(data.framing, dtype=str)}
    io.save_npz(path, **description, **framing, **arrays)


def save_augmented(path: Path, like: PreparedData, x_train: np.ndarray, y_train: np.ndarray):
    """The augmented training split, described as the prepared data it came from."""
    description = _description(like.dataset, like.classes, like.image_shape)
    io.save_npz(path, **description, x_train=x_train, y_train=y_train)


def _description(dataset: str, classes: tuple[str, ...], shape: tuple) -> dict[str, np.ndarray]:
    return {
        "dataset": np.array(dataset, dtype=str),
        "classes": np.array(classes, dtype=str),
        "image_shape": np.array(shape, dtype=np.int64),
    }


def _described(arrays: dict[str, np.ndarray]) -> tuple[str, tuple[str, ...], tuple[int, ...]]:
    dataset = str(arrays.pop("dataset"))
    classes = tuple(str(c) for c in arrays.pop("classes"))
    return dataset, classes, tuple(int(n) for n in arrays.pop("image_shape"))


def load_prepared(path: Path) -> PreparedData:
    """Load and sanity-check a prepared `.npz`; anything off names the stage to rerun."""
    arrays = io.load_npz(path, _DESCRIPTION + _ARRAYS, producer="prepare")
    dataset, classes, shape = _described(arrays)
    framing = str(arrays.pop("framing", "object"))
    data = PreparedData(classes=classes, dataset=dataset, framing=framing, **arrays)
    for split in SPLITS:
        x, y = data.split(split)
        if x.dtype != np.uint8 or x.shape[1:] != shape or y.shape != (len(x),):
            raise ConvnetsError(
                f"{path}: split {split!r} has images {x.dtype} {x.shape} and labels {y.shape}, "
                f"but the file says {shape}. Fix: run `dvc repro --force prepare`."
            )
        if len(y) and (y.min() < 0 or y.max() >= len(classes)):
            raise ConvnetsError(
                f"{path}: split {split!r} has labels outside 0..{len(classes) - 1}. "
                f"Fix: run `dvc repro --force prepare`."
            )
    return data


def load_augmented(path: Path, like: PreparedData) -> tuple[np.ndarray, np.ndarray]:
    """The augmented training split, refused unless it describes the same data as `like`."""
    arrays = io.load_npz(path, (*_DESCRIPTION, "x_train", "y_train"), producer="augment")
    described = _described(arrays)
    x, y = arrays["x_train"], arrays["y_train"]
    expected = (like.dataset, like.classes, like.image_shape)
    if described != expected or x.shape[1:] != like.image_shape or len(x) != len(y):
        raise ConvnetsError(
            f"{path} holds {described[0]} images {x.shape[1:]} but the prepared data are "
            f"{like.dataset} {like.image_shape}. Fix: run `dvc repro augment`."
        )
    return x, y
