"""Measure `convnets predict` as a user meets it: `python -m tests.photo_like [repo] [--count N]`.

On a finished run (data/prepared/fashion-mnist.npz, models/best.onnx) it writes, to a temporary
folder, N test images as PNGs and the same images made photo-like, plus a few handwritten digits
and noise pictures, runs the real `convnets predict --json` on each folder and prints accuracy
and the share flagged unsure. Photo-like: the garment inverted (dark on light, as photographed),
scaled up bilinearly to a side of 90 to 169 pixels, darkened onto a 200x240 canvas of a random
light grey (210 to 249, noise sigma 3) at a random offset, saved as JPEG quality 85. Resized:
the test image itself at another size (`resized`), whose label must be the 28x28 PNG's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image


def photo_like(image: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A 28x28 light-on-dark test image as a photographed product: dark on light, with margins."""
    side = int(rng.integers(90, 170))
    garment = Image.fromarray(255 - image).resize((side, side), Image.Resampling.BILINEAR)
    grey = int(rng.integers(210, 250))
    canvas = np.clip(rng.normal(grey, 3, (240, 200)), 0, 255)
    top, left = int(rng.integers(0, 240 - side)), int(rng.integers(0, 200 - side))
    region = canvas[top : top + side, left : left + side]
    canvas[top : top + side, left : left + side] = np.minimum(region, np.asarray(garment))
    return Image.fromarray(canvas.astype(np.uint8))


def resized(image: np.ndarray, rng: np.random.Generator) -> tuple[Image.Image, str]:
    """A test image as a user may have saved it: a side of 28 to 512 pixels (bicubic), grey or
    RGB, and the file suffix to save it with, PNG or JPEG (saved at quality 90)."""
    side = int(rng.integers(28, 513))
    picture = Image.fromarray(image).resize((side, side), Image.Resampling.BICUBIC)
    if rng.random() < 0.5:
        picture = picture.convert("RGB")
    return picture, ".jpg" if rng.random() < 0.5 else ".png"


def agreement(rows: list[dict], reference: list[dict]) -> float:
    """The share of pictures whose top label is the reference's (the same image at 28x28)."""
    pairs = zip(rows, reference, strict=True)
    return float(np.mean([a["top_k"][0]["label"] == b["top_k"][0]["label"] for a, b in pairs]))


def predict(repo: Path, folder: Path) -> list[dict]:
    """`convnets predict --json` on every file of `folder`, in file-name order."""
    convnets = Path(sys.executable).parent / "convnets"
    done = subprocess.run(
        [convnets, "predict", folder, "--model", repo / "models/best.onnx", "--json",
         "--top-k", "1"], capture_output=True, text=True, check=True,
    )  # fmt: skip
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    return sorted(rows, key=lambda row: row["file"])


def report(name: str, rows: list[dict], truth: list[str] | None) -> None:
    unsure = np.mean([row["unsure"] for row in rows])
    line = f"{name:22s} {len(rows):5d} images, {unsure:6.1%} unsure"
    if truth is not None:
        right = np.mean([row["top_k"][0]["label"] == t for row, t in zip(rows, truth, strict=True)])
        line += f", accuracy {right:6.1%}"
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("repo", type=Path, nargs="?", default=Path("."))
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    with np.load(args.repo / "data/prepared/fashion-mnist.npz", allow_pickle=False) as data:
        images, labels = data["x_test"][: args.count, ..., 0], data["y_test"][: args.count]
        classes = [str(name) for name in data["classes"]]
    truth = [classes[label] for label in labels]
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as scratch:
        names = ("png", "photo", "resized", "digits", "noise")
        folders = {name: Path(scratch, name) for name in names}
        for folder in folders.values():
            folder.mkdir()
        for i, image in enumerate(images):
            Image.fromarray(image).save(folders["png"] / f"{i:05d}.png")
            photo_like(image, rng).save(folders["photo"] / f"{i:05d}.jpg", quality=85)
            picture, suffix = resized(image, rng)
            picture.save(folders["resized"] / f"{i:05d}{suffix}", quality=90)
        _outliers(folders["digits"], folders["noise"], rng)
        as_png = predict(args.repo, folders["png"])
        report("test images as PNG", as_png, truth)
        report("photo-like JPEGs", predict(args.repo, folders["photo"]), truth)
        again = predict(args.repo, folders["resized"])
        report("resized, 28 to 512 px", again, truth)
        print(f"{'':22s} the 28x28 PNG's label on {agreement(again, as_png):.1%}")
        report("handwritten digits", predict(args.repo, folders["digits"]), None)
        report("uniform noise", predict(args.repo, folders["noise"]), None)


def _outliers(digits: Path, noise: Path, rng: np.random.Generator) -> None:
    """20 of scikit-learn's digits at 64x64 (light on dark) and 20 uniform-noise pictures."""
    from sklearn.datasets import load_digits

    for i, digit in enumerate(load_digits().images[:20]):
        pixels = (digit * 255 / 16).astype(np.uint8)
        Image.fromarray(pixels).resize((64, 64), Image.Resampling.BILINEAR).save(
            digits / f"{i}.png"
        )
        noisy = rng.integers(0, 256, (64, 64), dtype=np.uint8)
        Image.fromarray(noisy).save(noise / f"{i}.png")


if __name__ == "__main__":
    main()
