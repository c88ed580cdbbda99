"""Prepare any picture the way the dataset was made: find the object, crop, scale, centre.

Fashion-MNIST was made from product photos by trimming the background, scaling the longest side
to 28 pixels and centring. Padding a whole photo instead shrinks an off-centre garment with wide
margins to a few pixels, and the model then sees nothing it was trained on. So: estimate the
background from the border, threshold each pixel's difference from it, crop to the bounding box of
what differs, and pad that to the model's size in the background's colour (which centres it).
For grey models the cropped picture's levels are stretched so its background is black, as in the
dataset (after inverting a light background, a photo's paper is dark grey, not black).

Three kinds of picture are only scaled (padded to the model's aspect and size), never cropped:
one whose object already spans its width or height; one already at the model's size, whose
answer must equal the evaluate path's; and, for grey models, one already light on the dataset's
black background (its border within `BLACK` levels of 0, unlike a photo's dark cloth), which is
the dataset's own framing at another size: a crop by threshold would trim the faint edges of a
garment and enlarge it, and its answer must be the dataset image's. Such a picture is read back
near the centres of the dataset's pixels (`read_back`), not averaged over whole neighbourhoods.
An image with nothing but background is reported as such, so `predict` can call it unsure.

numpy and Pillow only: `convnets predict` imports this and must start without torch.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MIN_CONTRAST = 32  # grey levels (0-255) a pixel must differ from the background to be object
SPREAD = 4.0  # ... or this many median absolute deviations of the border, if larger (noise, JPEG)
MIN_SHARE = 0.01  # a row or column counts as object when this share (or 1 pixel) differs
BLACK = 8  # grey levels: a border this close to black is the dataset's own (not a dark cloth)
READ_WIDTH = 0.25  # read_back's kernel unit: this share of a dataset pixel (at least 1 pixel)
LOBES = 3  # ... and its lobes each side: Lanczos-3


class PictureError(Exception):
    """A file that is not a picture we can use: empty, truncated, damaged or a bomb."""


def open_picture(path: Path) -> Image.Image:
    """Decode a file fully (the first frame of an animation), with the camera's rotation applied.

    Decoding everything now, not lazily, is what finds a truncated file: Pillow reads the
    header on open and the pixels only on `load`.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                opened.seek(0)
                opened.load()
                return ImageOps.exif_transpose(opened)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PictureError(f"{path}: refused as a decompression bomb ({exc})") from None
    except UnidentifiedImageError:
        kind = "an empty file" if path.stat().st_size == 0 else "not an image Pillow can read"
        raise PictureError(f"{path}: {kind}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise PictureError(f"{path}: damaged or truncated image ({exc})") from None


def fit(image: Image.Image, height: int, width: int, grey: bool, framing: str) -> np.ndarray:
    """A picture as uint8 (H, W, C) at the model's size, the way a folder dataset was made.

    pad: scaled to fit whole, the rest filled with the border's colour; crop: the centred box of
    the model's aspect, scaled; stretch: scaled to the size whatever the aspect. `ingest`,
    `predict` and the explorer (prepare.mjs `frame`) do exactly this, so a picture from the
    folder and the same file given to either gets the same pixels.
    """
    image = to_model_mode(image, grey)
    size = (width, height)
    if image.size == size:
        fitted = image
    elif framing == "crop":
        fitted = image.crop(centre_box(image.width, image.height, width, height))
        fitted = fitted.resize(size, Image.Resampling.BICUBIC)
    elif framing == "stretch":
        fitted = image.resize(size, Image.Resampling.BICUBIC)
    else:
        fill = tuple(int(v) for v in border_colour(np.asarray(image)))
        fitted = ImageOps.pad(image, size, Image.Resampling.BICUBIC, fill[0] if grey else fill)
    array = np.asarray(fitted, dtype=np.uint8)
    return array[..., None] if grey else array


def centre_box(width: int, height: int, to_width: int, to_height: int) -> tuple[int, ...]:
    """(left, top, right, bottom): the largest centred box of the target's aspect, in whole
    pixels (integer arithmetic, so the browser's port computes the same box)."""
    if width * to_height > height * to_width:  # wider than the target: trim the sides
        kept = max(1, height * to_width // to_height)
        left = (width - kept) // 2
        return left, 0, left + kept, height
    kept = max(1, width * to_height // to_width)
    top = (height - kept) // 2
    return 0, top, width, top + kept


@dataclass(frozen=True)
class Prepared:
    pixels: np.ndarray  # uint8 (H, W, C) at the model's size
    found: bool  # False: one colour, or (grey models) nothing stands out from the background


def prepare(
    image: Image.Image, height: int, width: int, grey: bool, invert: str, keep_framing: bool = True
) -> Prepared:
    """A decoded picture (EXIF already applied) as the model's uint8 (H, W, C).

    `invert`: "always", "never", or "auto" (grey models only: invert when the border is light,
    since MNIST-style data are a light object on black). `keep_framing`: a grey picture on a
    black background is the dataset's framing, kept; the explorer's drawings are cropped anyway.
    """
    image = to_model_mode(image, grey)
    inverted = invert == "always" or (invert == "auto" and grey and light_background(image))
    if inverted:
        image = ImageOps.invert(image)
    pixels = np.asarray(image)
    background = border_colour(pixels)
    box = object_box(pixels, background)
    framed = keep_framing and grey and not inverted and float(background[0]) <= BLACK
    if box is not None and not framed:
        top, bottom, left, right = box
        fills = (bottom - top == pixels.shape[0]) or (right - left == pixels.shape[1])
        if not fills and image.size != (width, height):
            image = image.crop((left, top, right, bottom))
            if grey:  # MNIST-style data have a black background: stretch the levels to it
                image, background = to_black(image, float(background[0])), np.zeros(1)
    fill = tuple(int(v) for v in background) if not grey else int(background[0])
    if framed and image.size != (width, height):
        image = read_back(image, *contained_size(image.width, image.height, width, height))
    if image.size != (width, height):
        image = ImageOps.pad(image, (width, height), color=fill)
    array = np.asarray(image, dtype=np.uint8)
    # Grey data (MNIST, Fashion-MNIST) are objects on a plain background: nothing standing out
    # is unlike them. Colour photos (CIFAR-10) often have no plain background: only a picture
    # of one colour is empty.
    found = box is not None if grey else float(np.ptp(pixels)) > MIN_CONTRAST
    return Prepared(array[..., None] if grey else array, found)


def read_back(image: Image.Image, width: int, height: int) -> Image.Image:
    """A grey picture of the dataset's framing at another size, at (width, height): each pixel
    read near a dataset pixel's centre, by a Lanczos kernel a quarter of that pixel wide.

    Enlarging resizers (nearest, bilinear, bicubic, Lanczos) keep each original pixel's value at
    its centre, so reading there gives it back: mean error 0.3 grey levels on Fashion-MNIST test
    images enlarged by bicubic to 28 to 512 px, against 5.2 for Pillow's antialiased shrink,
    whose kernel spans two pixels each side and blurs the garment's edges enough to change 2.1%
    of the answers. Lanczos rather than a plain mean, so a picture enlarged only a little (31 px)
    is interpolated between its samples well. The browser's port (prepare.mjs `readBack`) sums
    the same products in the same order in doubles.
    """
    pixels = np.asarray(image, dtype=np.float64)
    rows = _lanczos_taps(pixels.shape[0], height)
    cols = _lanczos_taps(pixels.shape[1], width)
    across = sum(weights * pixels[:, index] for index, weights in cols)  # (H_in, width)
    down = sum(weights[:, None] * across[index] for index, weights in rows)  # (height, width)
    return Image.fromarray(np.clip(np.round(down), 0, 255).astype(np.uint8))


def _lanczos_taps(size: int, to_size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per tap: (source index, weight) for every output, (to_size,) each, weights summing to 1.

    Taps are in source order and padded with zero weights, so summing over them adds the same
    products in the same order as the browser's loop.
    """
    scale = size / to_size
    radius = max(READ_WIDTH * scale, 1.0)
    taps = []
    for out in range(to_size):
        centre = (out + 0.5) * scale
        first = max(math.floor(centre - LOBES * radius - 0.5), 0)
        last = min(math.ceil(centre + LOBES * radius + 0.5), size)
        weights = [lanczos((k + 0.5 - centre) / radius) for k in range(first, last)]
        total = 0.0
        for weight in weights:
            total += weight
        taps.append((first, [weight / total for weight in weights]))
    longest = max(len(weights) for _, weights in taps)
    index = np.array([[min(first + t, size - 1) for t in range(longest)] for first, _ in taps])
    weight = np.array([weights + [0.0] * (longest - len(weights)) for _, weights in taps])
    return [(index[:, t], weight[:, t]) for t in range(longest)]


def lanczos(x: float) -> float:
    """The Lanczos kernel with LOBES lobes: sinc(x) sinc(x / LOBES) inside them, else 0."""
    if x == 0.0:
        return 1.0
    if abs(x) >= LOBES:
        return 0.0
    px = math.pi * x
    return LOBES * math.sin(px) * math.sin(px / LOBES) / (px * px)


def contained_size(width: int, height: int, to_width: int, to_height: int) -> tuple[int, int]:
    """The size ImageOps.pad scales a picture to before centring it: the aspect kept, fitted
    (at least one pixel, where Pillow would leave a sliver of a picture out)."""
    ratio, target = width / height, to_width / to_height
    if ratio > target:
        return to_width, max(round(height / width * to_width), 1)
    if ratio < target:
        return max(round(width / height * to_height), 1), to_height
    return to_width, to_height


def to_black(image: Image.Image, background: float) -> Image.Image:
    """Grey levels mapped so the background is 0 and white stays 255 (a photo's grey paper)."""
    pixels = np.asarray(image, dtype=np.float32)
    stretched = (pixels - background) * (255.0 / max(255.0 - background, 1.0))
    return Image.fromarray(np.clip(np.round(stretched), 0, 255).astype(np.uint8))


def to_model_mode(image: Image.Image, grey: bool) -> Image.Image:
    """L or RGB; transparent pixels over black (grey data) or white (colour photos).

    16- and 32-bit grey are scaled to 8 bits (Pillow's own conversion would clip them at 255).
    """
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        wide = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if wide.max(initial=0) > 255 or image.mode.startswith("I;16") else 255.0
        image = Image.fromarray(np.clip(np.round(wide * (255.0 / peak)), 0, 255).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", image.size, (0, 0, 0) if grey else (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    return image.convert("L" if grey else "RGB")


def light_background(image: Image.Image) -> bool:
    """A border brighter than mid-grey means a dark object on a light background."""
    return float(border_pixels(np.asarray(image, dtype=np.float32)).mean()) > 127.5


def border_pixels(pixels: np.ndarray) -> np.ndarray:
    """The outermost ring of pixels, (K, C) or (K,) for a 2-D image."""
    return np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])


def border_colour(pixels: np.ndarray) -> np.ndarray:
    """The background's colour: the per-channel median of the border, shape (C,)."""
    border = border_pixels(pixels.reshape(*pixels.shape[:2], -1).astype(np.float32))
    return np.median(border, axis=0)


def object_box(pixels: np.ndarray, background: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right), end-exclusive, of what differs from the background, or None."""
    values = pixels.reshape(*pixels.shape[:2], -1).astype(np.float32)
    border = border_pixels(values)
    spread = np.median(np.abs(border - background), axis=0).max()
    threshold = max(MIN_CONTRAST, SPREAD * float(spread))
    mask = np.abs(values - background).max(axis=2) > threshold  # (H, W)
    rows = np.flatnonzero(mask.sum(axis=1) >= max(1.0, MIN_SHARE * mask.shape[1]))
    cols = np.flatnonzero(mask.sum(axis=0) >= max(1.0, MIN_SHARE * mask.shape[0]))
    if len(rows) == 0 or len(cols) == 0:
        return None
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
