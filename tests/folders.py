"""Folders of labelled pictures, as a user would bring them: real digits, one subfolder a class.

scikit-learn's `load_digits` (1,797 real 8x8 scans of handwritten digits, shipped offline) is
learnable and recognisable, unlike noise: a model that trains on the folder must beat chance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# Spaces, an accent and punctuation: class names must survive into ONNX metadata and predict.
DIGIT_NAMES = (
    "zéro", "one", "two (2)", "three", "four", "five", "six", "seven", "eight", "nine"
)  # fmt: skip


def digit_images(size: int, per_class: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (N, size, size) digits, white on black, and their labels (first `per_class`)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images * (255.0 / 16.0)).astype(np.uint8)
    labels = digits.target.astype(np.int64)
    if per_class is not None:
        keep = np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in range(10)])
        keep.sort()
        images, labels = images[keep], labels[keep]
    big = np.stack(
        [
            np.asarray(Image.fromarray(i).resize((size, size), Image.Resampling.BICUBIC))
            for i in images
        ]
    )
    return big, labels


def write_digit_folder(
    root: Path,
    size: int = 32,
    per_class: int | None = None,
    suffix: str = ".png",
    names: tuple[str, ...] = DIGIT_NAMES,
    test_every: int = 0,
) -> Path:
    """The digits as picture files, `root/<class name>/<i>.png` (or `train/` and `test/`).

    `test_every`: when > 0, every n-th picture of each class goes to `root/test/<class>/`, the
    rest to `root/train/<class>/` (a user who brings their own test split).
    """
    images, labels = digit_images(size, per_class)
    seen = np.zeros(10, dtype=int)  # pictures of each class so far: every class gets a test share
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        seen[label] += 1
        if test_every:
            split = "test" if seen[label] % test_every == 0 else "train"
            folder = root / split / names[label]
        else:
            folder = root / names[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{index:04d}{suffix}")
    return root


def write_fashion_folder(root: Path, raw: Path, size: int = 48, suffix: str = ".jpg") -> Path:
    """Fashion-MNIST as a user's folder: RGB pictures at `size`, `train/` and `test/` by class.

    `raw` holds the upstream IDX .gz files (Debian's dataset-fashion-mnist installs them in
    /usr/share/datasets/fashion-mnist). Class folders use the dataset's names, "/" made "-".
    """
    from convnets.data.datasets import FASHION_MNIST

    names = [name.replace("/", "-") for name in FASHION_MNIST.classes]
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = _idx(raw / f"{prefix}-images-idx3-ubyte.gz")
        labels = _idx(raw / f"{prefix}-labels-idx1-ubyte.gz")
        for name in names:
            (root / split / name).mkdir(parents=True, exist_ok=True)
        for index, (image, label) in enumerate(zip(images, labels, strict=True)):
            picture = Image.fromarray(image).convert("RGB")
            picture = picture.resize((size, size), Image.Resampling.BICUBIC)
            picture.save(root / split / names[label] / f"{index:05d}{suffix}", quality=90)
    return root


def _idx(path: Path) -> np.ndarray:
    import gzip

    raw = gzip.decompress(path.read_bytes())
    rank = raw[3]
    dims = np.frombuffer(raw[4 : 4 + 4 * rank], dtype=">u4")
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


if __name__ == "__main__":  # python -m tests.folders digits|fashion DEST
    import sys

    kind, dest = sys.argv[1], Path(sys.argv[2])
    if kind == "digits":
        write_digit_folder(dest, size=32, names=tuple(str(d) for d in range(10)))
    else:
        write_fashion_folder(dest, Path("/usr/share/datasets/fashion-mnist"))
