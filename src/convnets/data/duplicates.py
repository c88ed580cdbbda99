"""Exact and near-duplicate images within and across the splits of a dataset.

A test image that is also in train is scored on what the model memorised and inflates test
accuracy; a copy inside one split only weights that image twice. Two kinds are found:

- exact: identical pixels (same shape and bytes), grouped by a 16-byte blake2b digest.
- near: not identical, but the 64-bit DCT perceptual hashes (pHash) differ in at most
  `max_distance` bits AND the two 32x32 grey thumbnails the hash is computed from differ by at
  most `max_pixel_std` grey levels (the standard deviation of their difference, so a uniform
  brightness shift costs nothing): a re-encoded, noisy or slightly edited copy.

Why the pixel check: on small, plain images the 64 hash bits mostly encode the silhouette. On
Fashion-MNIST (train 60,000 vs test 10,000) the hash alone flags 119 test images at 0 bits, 1,119
at 2 and 2,842 at 4, nearly all of them a different shoe or shirt of the same shape. With the
pixel check at 8 grey levels 5, 7 and 11 remain, all of them the same product photo; between 8
and 12 grey levels the pairs turn into a mix of the same photo shifted or recoloured and different
garments of one cut, so 8 is the default.

The pHash is imagehash's (`imagehash.phash`, ImageHash 4.3.2): grey (Pillow's ITU-R 601-2 luma),
Lanczos resize to 32x32 with Pillow's own fixed-point coefficients, 2-D DCT-II, the top-left 8x8
low frequencies, bit = coefficient > their median, first bit most significant. It is written
here in numpy over whole batches rather than called per image: `imagehash.phash` through PIL takes
7.6 s for Fashion-MNIST's 70,000 images on one core of an AMD EPYC (AVX-512, BF16), this version
0.6 s, and it needs neither PIL nor imagehash. It matches imagehash bit for bit on all 70,000
(tests/test_duplicates.py checks digits and photo crops), except where a coefficient ties the
median exactly (a blank or perfectly symmetric image): imagehash's bits then follow float
rounding noise, while here coefficients are rounded to 1e-3 first, the same on every machine.
Exactly 32 of the 64 coefficients exceed their median (bar ties), so two hashes differ in an
even number of bits: an odd max_distance finds what the even number below it finds.

Comparing all pairs is 2.4e9 comparisons for 70,000 images. Instead: identical images are grouped
by digest with `np.unique`, and near pairs use the pigeonhole principle: split the 64 bits into
max_distance + 1 blocks (block k holds every (max_distance + 1)-th bit from bit k); two hashes
within max_distance bits agree exactly on at least one block, so only images sharing a block
value (a bucket) are compared. In a crowded bucket each image is compared with its next
`max_partners` only, and the skipped comparisons are counted in the report: a cut is never
silent. Fashion-MNIST's 70,000 take 1.5 s at max_distance 4 (0.7 s at 0, 5.2 s at 6), one core.

Counting, so that a number is what one could remove: within a split, the images that duplicate an
EARLIER image of the same split (three identical images count 2); across splits A-B (A before B
in the `splits` dict), the images of B that have a duplicate in A. An image with both an exact
and a near match counts as exact only. Example pairs name the earliest match.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations
from typing import Literal

import numpy as np

HASH_SIZE = 8  # the hash is the top-left HASH_SIZE x HASH_SIZE DCT coefficients: 64 bits
THUMB = 32  # images are resized to THUMB x THUMB grey before the DCT, as imagehash does
MAX_DISTANCE = 16  # beyond this, unrelated images collide (random hashes differ by 32 +- 4 bits)
MAX_PIXEL_STD = 8.0  # grey levels (0-255); see the module docstring for how it was chosen
MAX_PARTNERS = 2048  # comparisons per image and block in a crowded bucket
EXAMPLES = 50  # example pairs kept per split pair and kind
_PRECISION_BITS = 22  # Pillow's fixed-point resampling precision for 8-bit images (Resample.c)
_IMAGES_PER_BATCH = 2048  # 15 MB of float64 intermediates while hashing: stays in cache
_PAIRS_PER_BATCH = 1 << 20  # hash pairs compared at once: tens of MB
_STDS_PER_BATCH = 2048  # thumbnail pairs differenced at once: 16 MB, stays in cache

Kind = Literal["exact", "near"]
Ref = tuple[str, int]  # (split, index in that split)


@dataclass(frozen=True)
class DuplicatePair:
    """One image (`second`) and the earliest image it duplicates (`first`)."""

    kind: Kind
    first: Ref
    second: Ref
    distance: int  # bits apart in the perceptual hash; 0 for an exact copy
    pixel_std: float  # grey levels apart in the 32x32 thumbnails; 0.0 for an exact copy


@dataclass(frozen=True, eq=False)
class DuplicateReport:
    """What `find_duplicates` found: counts, a sample of pairs, and every cross-split index."""

    splits: tuple[str, ...]  # in the order given: "A-B" keys have A before B
    sizes: dict[str, int]  # images per split
    max_distance: int
    max_pixel_std: float
    counts: dict[str, dict[Kind, int]]  # "train-test" -> {"exact": n, "near": n}; module doc
    pairs: tuple[DuplicatePair, ...]  # up to EXAMPLES per split pair and kind, sorted
    # split -> sorted indices of its images with an exact or near copy in another split
    cross: dict[str, np.ndarray] = field(repr=False)
    compared: int = 0  # near-duplicate hash comparisons made
    skipped: int = 0  # hash comparisons cut in crowded buckets: near counts are a lower bound


def pixel_digests(images: np.ndarray) -> np.ndarray:
    """A 16-byte blake2b digest per image, dtype 'S16': equal digests mean identical pixels."""
    _check_images(images)
    shape = repr(images.shape[1:]).encode()  # two shapes with the same bytes are not copies
    return np.array(
        [hashlib.blake2b(img.tobytes(), digest_size=16, key=shape).digest() for img in images],
        dtype="S16",
    )


def perceptual_hashes(images: np.ndarray) -> np.ndarray:
    """imagehash's pHash of each uint8 NHWC image as uint64 (N,): see the module docstring."""
    return _thumbnails_and_hashes(images)[1]


def find_duplicates(
    splits: Mapping[str, np.ndarray],
    max_distance: int,
    max_pixel_std: float = MAX_PIXEL_STD,
    max_partners: int = MAX_PARTNERS,
) -> DuplicateReport:
    """Exact and near-duplicates within each split and across every pair of splits.

    `max_pixel_std=math.inf` keeps every hash match (pHash alone); see the module docstring.
    """
    _check_settings(max_distance, max_pixel_std, max_partners)
    if not splits:
        raise ValueError("splits must map at least one split name to its images; got none")
    index, compared, skipped = _Index.build(splits, max_distance, max_pixel_std, max_partners)
    counts: dict[str, dict[Kind, int]] = {}
    pairs: list[DuplicatePair] = []
    for a, b in _split_pairs(index.names):
        counts[f"{a}-{b}"], examples = index.findings(a, b)
        pairs += examples
    sizes = np.diff(index.offsets).tolist()
    return DuplicateReport(
        index.names,
        dict(zip(index.names, sizes, strict=True)),
        max_distance,
        max_pixel_std,
        counts,
        tuple(pairs),
        index.cross(),
        compared,
        skipped,
    )


@dataclass(frozen=True)
class _Index:
    """Every image's class of identical pixels and the earliest matches of each class per split.

    Global indices run over the splits in order: split k holds offsets[k] to offsets[k + 1] - 1.
    N (the number of images) stands for "none".
    """

    names: tuple[str, ...]
    offsets: np.ndarray  # (splits + 1,)
    image_class: np.ndarray  # (N,) images with identical pixels share a class
    exact_first: np.ndarray  # (classes, splits): the earliest image of the class in the split
    match_first: np.ndarray  # (classes, splits): the same, over the class and its near classes
    hashes: np.ndarray  # (N,) uint64
    thumbs: np.ndarray  # (N, 32, 32) uint8

    @classmethod
    def build(
        cls,
        splits: Mapping[str, np.ndarray],
        max_distance: int,
        max_pixel_std: float,
        max_partners: int,
    ) -> tuple[_Index, int, int]:
        """The index, and the near search's comparisons made and skipped."""
        names = tuple(splits)
        sizes = [len(splits[s]) for s in names]
        split_of = np.repeat(np.arange(len(names)), sizes)  # (N,)
        digests = np.concatenate([pixel_digests(splits[s]) for s in names])
        # One representative per distinct image: copies cost nothing in the near search.
        _, representative, image_class = np.unique(digests, return_index=True, return_inverse=True)
        hashed = [_thumbnails_and_hashes(splits[s]) for s in names]
        thumbs = np.concatenate([t for t, _ in hashed])
        hashes = np.concatenate([h for _, h in hashed])
        near, compared, skipped = _near_pairs(
            hashes[representative],
            thumbs[representative],
            max_distance,
            max_pixel_std,
            max_partners,
        )
        exact_first = _first_per_split(image_class, split_of, len(names))
        index = cls(
            names,
            np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]),
            image_class,
            exact_first,
            _spread_min(exact_first, near),
            hashes,
            thumbs,
        )
        return index, compared, skipped

    def findings(self, a: str, b: str) -> tuple[dict[Kind, int], list[DuplicatePair]]:
        """Images of split b with a copy in split a (earlier in it, where a is b): counts, pairs."""
        ka, kb = self.names.index(a), self.names.index(b)
        members = np.arange(self.offsets[kb], self.offsets[kb + 1])  # global indices of split b
        exact = self.exact_first[self.image_class[members], ka]  # earliest copy in a, or N
        match = self.match_first[self.image_class[members], ka]
        # Within a split the match must come earlier; across splits any match counts.
        limit = members if a == b else np.full_like(members, self.offsets[-1])
        is_exact, is_near = exact < limit, (match < limit) & (exact >= limit)
        pairs = []
        for kind, flagged, partner in (("exact", is_exact, exact), ("near", is_near, match)):
            second, first = members[flagged][:EXAMPLES], partner[flagged][:EXAMPLES]
            bits = np.bitwise_count(self.hashes[first] ^ self.hashes[second]).tolist()
            stds = _difference_std(self.thumbs[first], self.thumbs[second]).round(2).tolist()
            pairs += [
                DuplicatePair(kind, self.ref(f), self.ref(s), d, e)
                for f, s, d, e in zip(first, second, bits, stds, strict=True)
            ]
        return {"exact": int(is_exact.sum()), "near": int(is_near.sum())}, pairs

    def cross(self) -> dict[str, np.ndarray]:
        """Per split, the sorted indices of its images with an exact or near copy elsewhere."""
        n_images, n_splits = len(self.image_class), len(self.names)
        found = self.match_first[self.image_class] < n_images  # (N, splits)
        found[np.arange(n_images), np.repeat(np.arange(n_splits), np.diff(self.offsets))] = False
        return {
            s: np.flatnonzero(found[self.offsets[k] : self.offsets[k + 1]].any(axis=1))
            for k, s in enumerate(self.names)
        }

    def ref(self, index: int) -> Ref:
        k = int(np.searchsorted(self.offsets, index, side="right")) - 1
        return self.names[k], int(index - self.offsets[k])


def _split_pairs(names: tuple[str, ...]) -> list[tuple[str, str]]:
    """Each split with itself, then every pair in the given order: the report's "A-B" keys."""
    return [(s, s) for s in names] + list(combinations(names, 2))


def cross_split_test_duplicates(report: DuplicateReport, test: str = "test") -> np.ndarray:
    """Sorted indices of `test` images with an exact or near copy in any other split.

    These are what `prepare.drop_test_duplicates` removes: a test image the model may have
    trained on (or chosen its checkpoint on) says nothing about unseen images.
    """
    if test not in report.cross:
        raise ValueError(f"no split named {test!r}; the report has {list(report.splits)}")
    return report.cross[test]


def lines(report: DuplicateReport, names: Mapping[Ref, str] | None = None) -> list[str]:
    """One line per finding: how many, one example, why it matters and the fix.

    `names` maps (split, index) to a file path, so a folder dataset names its files.
    """
    out = []
    for a, b in _split_pairs(report.splits):
        for kind, n in report.counts[f"{a}-{b}"].items():
            if n:
                example = next(
                    p for p in report.pairs if (p.kind, p.first[0], p.second[0]) == (kind, a, b)
                )
                out.append(_line(a, b, n, example, report, names or {}))
    if report.skipped:
        out.append(
            f"The near-duplicate search skipped {report.skipped:,} of "
            f"{report.skipped + report.compared:,} hash comparisons in crowded buckets, so the "
            f"near counts are a lower bound. Fix: lower prepare.near_duplicate_bits."
        )
    return out


def _line(
    a: str, b: str, n: int, p: DuplicatePair, report: DuplicateReport, names: Mapping[Ref, str]
) -> str:
    second = names.get(p.second, f"{b} #{p.second[1]}")
    first = names.get(p.first, f"{a} #{p.first[1]}")
    if p.kind == "exact":
        what, example = "Exact copies", f"e.g. {second} = {first}"
    else:
        what = (
            f"Near-copies (perceptual hash within {report.max_distance} bits, pixels within "
            f"{report.max_pixel_std:g} grey levels)"
        )
        example = f"e.g. {second} ≈ {first}: {p.distance} bits, {p.pixel_std:.1f} grey levels"
    found = f"{n:,} of {report.sizes[b]:,} ({example})"
    # A built-in dataset's files are upstream's: only the test side can be fixed here.
    upstream = "none here: a built-in dataset keeps upstream's files"
    remove = "remove the copies from your folder" if names else upstream
    if a == b:
        twice = f"those images count twice in {b}"
        return f"{what} of an earlier {a} image in {b}: {found}: {twice}. Fix: {remove}."
    drop = "set prepare.drop_test_duplicates: true" + (
        ", or remove them from your folder" if names else ""
    )
    fix = drop if b == "test" else ("remove them from your folder" if names else upstream)
    return f"{what} of {a} images in {b}: {found}: they inflate {b} accuracy. Fix: {fix}."


def _check_images(images: np.ndarray) -> None:
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] not in (1, 3):
        raise ValueError(
            f"images must be uint8 (N, H, W, C) with C 1 or 3; got {images.dtype} {images.shape}"
        )


def _check_settings(max_distance: int, max_pixel_std: float, max_partners: int) -> None:
    if not isinstance(max_distance, int) or not 0 <= max_distance <= MAX_DISTANCE:
        raise ValueError(
            f"max_distance must be an int in [0, {MAX_DISTANCE}] (bits of a 64-bit perceptual "
            f"hash); got {max_distance!r}"
        )
    if not max_pixel_std >= 0:
        raise ValueError(f"max_pixel_std must be >= 0 grey levels; got {max_pixel_std!r}")
    if not isinstance(max_partners, int) or max_partners < 1:
        raise ValueError(f"max_partners must be an int >= 1; got {max_partners!r}")


def _thumbnails_and_hashes(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pillow's 32x32 grey Lanczos thumbnails, uint8 (N, 32, 32), and their pHash (N,) uint64."""
    _check_images(images)
    to_height = _resize_matrix(images.shape[1], THUMB)  # (32, H) integer coefficients
    to_width = _resize_matrix(images.shape[2], THUMB)  # (32, W)
    dct = _dct_matrix()  # (8, 32)
    thumbs = np.empty((len(images), THUMB, THUMB), dtype=np.uint8)
    hashes = np.empty(len(images), dtype=np.uint64)
    for start in range(0, len(images), _IMAGES_PER_BATCH):
        # grey per batch: the whole split as float would be 4x its uint8 size
        batch = _grey(images[start : start + _IMAGES_PER_BATCH]).astype(np.float64)
        # Pillow resamples horizontally, rounds to uint8, then vertically, and rounds again.
        wide = _round_fixed(batch @ to_width.T)  # (B, H, 32)
        small = _round_fixed(to_height @ wide)  # (B, 32, 32)
        low = (dct @ small @ dct.T).reshape(len(batch), -1)  # (B, 64), row-major as imagehash
        low = np.round(low, 3)  # see module docstring: exact ties stay ties on every machine
        bits = low > np.median(low, axis=1, keepdims=True)
        thumbs[start : start + len(batch)] = small
        hashes[start : start + len(batch)] = np.packbits(bits, axis=1).view(">u8")[:, 0]
    return thumbs, hashes


def _grey(images: np.ndarray) -> np.ndarray:
    """Pillow's convert("L"): L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16, in integers.

    In float32 (BLAS, 4x faster than integer matmul): every sum stays below 2**24, so exact.
    """
    if images.shape[3] == 1:
        return images[..., 0]
    weights = np.array([19595, 38470, 7471], dtype=np.float32)
    luma = images.astype(np.float32) @ weights + 0x8000  # (N, H, W)
    return np.floor(luma * (1.0 / (1 << 16))).astype(np.uint8)


@lru_cache
def _resize_matrix(size_in: int, size_out: int) -> np.ndarray:
    """Pillow's Lanczos weights (out, in) as integers scaled by 2**22, from its Resample.c.

    Same doubles in the same order, so the rounded integers match Pillow's; the products and sums
    of these integers with uint8 pixels stay below 2**53, so float64 matmul is exact.
    """
    scale = size_in / size_out
    filterscale = max(scale, 1.0)
    support = 3.0 * filterscale  # Lanczos-3
    out = np.zeros((size_out, size_in))
    for xx in range(size_out):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), size_in)
        weights = [_lanczos((x - center + 0.5) / filterscale) for x in range(xmin, xmax)]
        total = 0.0
        for w in weights:  # summed in Pillow's order: rounding must match to the last bit
            total += w
        for x, w in zip(range(xmin, xmax), weights, strict=True):
            w = w / total if total != 0.0 else w
            scaled = w * (1 << _PRECISION_BITS)
            out[xx, x] = int(scaled - 0.5) if w < 0 else int(scaled + 0.5)
    return out


def _lanczos(x: float) -> float:
    return _sinc(x) * _sinc(x / 3) if -3.0 <= x < 3.0 else 0.0


def _sinc(x: float) -> float:
    if x == 0.0:
        return 1.0
    x = x * math.pi
    return math.sin(x) / x


def _round_fixed(sums: np.ndarray) -> np.ndarray:
    """Pillow's clip8, in place: add half, drop the 22 fraction bits, clamp to 0..255."""
    sums += 1 << (_PRECISION_BITS - 1)
    sums *= 1.0 / (1 << _PRECISION_BITS)  # a power of two: exact
    return np.clip(np.floor(sums, out=sums), 0, 255, out=sums)


@lru_cache
def _dct_matrix() -> np.ndarray:
    """scipy.fftpack's unnormalised DCT-II rows 0..7 for 32 samples: 2 cos(pi k (2n + 1) / 64)."""
    k, n = np.arange(HASH_SIZE)[:, None], np.arange(THUMB)[None, :]
    return 2 * np.cos(np.pi * k * (2 * n + 1) / (2 * THUMB))


def _near_pairs(
    hashes: np.ndarray,
    thumbs: np.ndarray,
    max_distance: int,
    max_pixel_std: float,
    max_partners: int,
) -> tuple[np.ndarray, int, int]:
    """Pairs (i, j), i < j, of distinct images that are near-copies: (P, 2) int64, sorted.

    Also returns how many hash comparisons were made and how many a crowded bucket skipped.
    """
    found, compared, skipped = [np.empty((0, 2), dtype=np.int64)], 0, 0
    bits = (hashes[:, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)  # (N, 64)
    for block in range(max_distance + 1):
        # Block k takes bits k, k + blocks, ...: each mixes low and high frequencies. Contiguous
        # blocks put the silhouette's lowest frequencies together: 3x the pairs on Fashion-MNIST.
        cols = np.arange(block, 64, max_distance + 1)
        key = (bits[:, cols] << np.arange(len(cols), dtype=np.uint64)).sum(axis=1)
        order = np.argsort(key, kind="stable")  # buckets become runs; stable: deterministic
        partners, cut = _bucket_partners(key[order], max_partners)
        compared, skipped = compared + int(partners.sum()), skipped + cut
        for first, second in _pair_batches(partners):
            first, second = order[first], order[second]
            close = np.bitwise_count(hashes[first] ^ hashes[second]) <= max_distance
            found.append(np.sort(np.stack([first[close], second[close]], axis=1), axis=1))
    pairs = np.unique(np.concatenate(found), axis=0)  # agreeing on two blocks: found twice
    if not math.isfinite(max_pixel_std):
        return pairs, compared, skipped
    stds = [
        _difference_std(thumbs[batch[:, 0]], thumbs[batch[:, 1]])
        for batch in np.split(pairs, range(_STDS_PER_BATCH, len(pairs), _STDS_PER_BATCH))
    ]
    stds = np.concatenate(stds)
    return pairs[stds <= max_pixel_std], compared, skipped


def _bucket_partners(keys: np.ndarray, max_partners: int) -> tuple[np.ndarray, int]:
    """How many following positions of sorted `keys` each one is compared with, and the cut.

    A position's partners are the later members of its run of equal keys, at most max_partners.
    """
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    lengths = np.diff(np.concatenate([starts, [len(keys)]]))
    run_end = np.repeat(starts + lengths, lengths)  # (n,) one past the end of each one's run
    rest = run_end - np.arange(len(keys)) - 1
    partners = np.minimum(rest, max_partners)
    return partners, int((rest - partners).sum())


def _pair_batches(partners: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Positions (p, p + 1 .. p + partners[p]) in batches of about _PAIRS_PER_BATCH pairs."""
    ends = np.cumsum(partners)
    cuts = np.searchsorted(ends, np.arange(_PAIRS_PER_BATCH, ends[-1:].sum(), _PAIRS_PER_BATCH))
    for lo, hi in zip([0, *cuts], [*cuts, len(partners)], strict=True):
        counts = partners[lo:hi]
        first = np.repeat(np.arange(lo, hi), counts)
        step = np.arange(len(first)) - np.repeat(np.cumsum(counts) - counts, counts) + 1
        yield first, first + step


def _difference_std(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Std of (a - b) per pair of uint8 thumbnails (P, 32, 32): grey levels, offset-invariant.

    Sums of integers in float64 are exact in any order, so the result is the same everywhere.
    """
    diff = (a.astype(np.int16) - b).reshape(len(a), THUMB * THUMB).astype(np.float64)
    n = diff.shape[1]
    total, squares = diff.sum(axis=1), np.einsum("ij,ij->i", diff, diff)
    return np.sqrt(n * squares - total * total) / n


def _first_per_split(classes: np.ndarray, split_of: np.ndarray, n_splits: int) -> np.ndarray:
    """(classes, splits): the earliest global index of each class in each split, N if none."""
    n = len(classes)
    first = np.full((classes.max(initial=-1) + 1, n_splits), n, dtype=np.int64)
    np.minimum.at(first, (classes, split_of), np.arange(n))
    return first


def _spread_min(first: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Each class also takes the earliest image of every class it is a near-copy of."""
    spread = first.copy()
    for a, b in ((0, 1), (1, 0)):
        np.minimum.at(spread, pairs[:, a], first[pairs[:, b]])
    return spread
