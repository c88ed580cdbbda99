"""Duplicate finding: planted exact and near copies are found with the right split pair, distinct
images are not, the fast pHash is imagehash's, and the pigeonhole search misses nothing."""

from __future__ import annotations

import importlib.util
import io
import math
from functools import lru_cache

import numpy as np
import pytest
from PIL import Image

from convnets.data.duplicates import (
    MAX_DISTANCE,
    DuplicatePair,
    _grey,
    _near_pairs,
    cross_split_test_duplicates,
    find_duplicates,
    lines,
    perceptual_hashes,
    pixel_digests,
)
from tests.require import require

DISTANCE = 4  # params.yaml's prepare.near_duplicate_bits


@lru_cache
def _digits() -> np.ndarray:
    """scikit-learn's 1,797 handwritten digits, 0-16 scaled to 0-255, bilinear to 28x28 NHWC.

    None of them is a near-copy of another at DISTANCE bits (checked when written).
    """
    from sklearn.datasets import load_digits

    small = np.round(load_digits().images * (255 / 16)).astype(np.uint8)  # (1797, 8, 8)
    big = [np.asarray(Image.fromarray(d).resize((28, 28), Image.BILINEAR)) for d in small]
    return np.stack(big)[..., None]


def _noisy(image: np.ndarray) -> np.ndarray:
    """The image with uniform noise of +-3 grey levels on every pixel."""
    noise = np.random.default_rng(0).integers(-3, 4, image.shape)
    return np.clip(image.astype(int) + noise, 0, 255).astype(np.uint8)


def _jpeg(image: np.ndarray, quality: int = 75) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(image[..., 0]).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(buf))[..., None]


def _brighter(image: np.ndarray, levels: int = 10) -> np.ndarray:
    return np.clip(image.astype(int) + levels, 0, 255).astype(np.uint8)


def _one_pixel(image: np.ndarray, row: int = 14, col: int = 14) -> np.ndarray:
    """The image with one pixel one grey level brighter (or darker, where it is 255)."""
    out = image.copy()
    out[row, col] = np.where(image[row, col] < 255, image[row, col] + 1, 254)
    return out


def _planted() -> dict[str, np.ndarray]:
    """Three splits of distinct digits with these copies planted (index = position in the split):

    train #500, #501 = train #100 (exact: a group of three counts 2)
    val #5 = train #30 (exact)          test #3 = train #10 (exact)
    test #7 = train #20 + noise (near)  test #11 = train #50 as JPEG (near)
    test #9 = val #40 brighter (near)   test #13 = test #2 with one pixel changed (near)
    """
    digits = _digits()
    train, val, test = digits[:600].copy(), digits[600:800].copy(), digits[800:1000].copy()
    train[500] = train[501] = train[100]
    val[5] = train[30]
    test[3] = train[10]
    test[7] = _noisy(train[20])
    test[11] = _jpeg(train[50])
    test[9] = _brighter(val[40])
    test[13] = _one_pixel(test[2])
    return {"train": train, "val": val, "test": test}


PLANTED_COUNTS = {
    "train-train": {"exact": 2, "near": 0},
    "val-val": {"exact": 0, "near": 0},
    "test-test": {"exact": 0, "near": 1},
    "train-val": {"exact": 1, "near": 0},
    "train-test": {"exact": 1, "near": 2},
    "val-test": {"exact": 0, "near": 1},
}


def test_planted_copies_are_found_with_their_split_pair_and_counts():
    report = find_duplicates(_planted(), DISTANCE)

    assert report.counts == PLANTED_COUNTS
    found = {(p.kind, p.first, p.second) for p in report.pairs}
    assert found == {
        ("exact", ("train", 100), ("train", 500)),
        ("exact", ("train", 100), ("train", 501)),
        ("exact", ("train", 30), ("val", 5)),
        ("exact", ("train", 10), ("test", 3)),
        ("near", ("train", 20), ("test", 7)),
        ("near", ("train", 50), ("test", 11)),
        ("near", ("val", 40), ("test", 9)),
        ("near", ("test", 2), ("test", 13)),
    }
    for pair in report.pairs:
        if pair.kind == "exact":
            assert (pair.distance, pair.pixel_std) == (0, 0.0)
        else:
            assert pair.distance <= DISTANCE and 0 < pair.pixel_std <= report.max_pixel_std


def test_cross_split_test_duplicates_are_exactly_the_planted_test_images():
    splits = _planted()
    report = find_duplicates(splits, DISTANCE)

    np.testing.assert_array_equal(cross_split_test_duplicates(report), [3, 7, 9, 11])
    np.testing.assert_array_equal(report.cross["val"], [5, 40])
    np.testing.assert_array_equal(report.cross["train"], [10, 20, 30, 50])
    # The split order changes which pair names a copy, not which test images have one.
    reordered = find_duplicates({k: splits[k] for k in ("test", "val", "train")}, DISTANCE)
    np.testing.assert_array_equal(cross_split_test_duplicates(reordered), [3, 7, 9, 11])
    assert reordered.counts["test-train"] == {"exact": 1, "near": 2}


def test_distinct_images_are_not_flagged():
    digits = _digits()
    report = find_duplicates({"train": digits[:1500], "test": digits[1500:]}, DISTANCE)

    assert all(c == {"exact": 0, "near": 0} for c in report.counts.values()), report.counts
    assert report.pairs == ()
    assert len(cross_split_test_duplicates(report)) == 0
    assert lines(report) == []


def test_hash_matches_alone_are_not_near_copies():
    """Different digits of one shape share hashes; the pixel check keeps them apart."""
    splits = {"train": _digits()[:1500], "test": _digits()[1500:]}

    hash_only = find_duplicates(splits, 8, max_pixel_std=math.inf).counts["train-test"]
    checked = find_duplicates(splits, 8).counts["train-test"]

    assert hash_only["near"] >= 20 and checked["near"] == 0, (hash_only, checked)


def test_max_distance_zero_finds_exact_copies_and_equal_hashes():
    splits = _planted()
    hashes = perceptual_hashes(np.stack([splits["test"][2], splits["test"][13]]))
    assert hashes[0] == hashes[1]  # the one-pixel copy keeps the hash: the case tested here

    report = find_duplicates(splits, 0)

    assert {k: c["exact"] for k, c in report.counts.items()} == {
        k: c["exact"] for k, c in PLANTED_COUNTS.items()
    }
    assert report.counts["test-test"] == {"exact": 0, "near": 1}
    assert report.counts["train-test"]["near"] <= PLANTED_COUNTS["train-test"]["near"]


def test_same_input_gives_the_same_report():
    first, second = find_duplicates(_planted(), DISTANCE), find_duplicates(_planted(), DISTANCE)

    assert (first.counts, first.pairs, lines(first)) == (second.counts, second.pairs, lines(second))
    for split in first.splits:
        np.testing.assert_array_equal(first.cross[split], second.cross[split])
    for key in first.counts:
        for kind in ("exact", "near"):
            seconds = [p.second[1] for p in first.pairs if p.kind == kind and _key(p) == key]
            assert seconds == sorted(seconds)


def _key(pair: DuplicatePair) -> str:
    return f"{pair.first[0]}-{pair.second[0]}"


@pytest.mark.parametrize("max_distance", [0, 1, 2, 4, 7])
def test_pigeonhole_search_equals_brute_force(max_distance):
    """Random hashes plus planted partners a few bits away: every pair within max_distance bits
    is found, wherever its differing bits fall, and none farther."""
    rng = np.random.default_rng(max_distance)
    base = rng.integers(0, 2**63, 600, dtype=np.int64).astype(np.uint64) * np.uint64(2)
    base |= rng.integers(0, 2, 600).astype(np.uint64)  # all 64 bits random
    flips = np.zeros(600, dtype=np.uint64)
    for k in range(600):  # 0 to max_distance + 2 differing bits, anywhere in the 64
        for bit in rng.choice(64, rng.integers(0, max_distance + 3), replace=False):
            flips[k] |= np.uint64(1) << np.uint64(bit)
    hashes = np.concatenate([base, base ^ flips])
    thumbs = np.zeros((len(hashes), 32, 32), dtype=np.uint8)

    pairs, compared, skipped = _near_pairs(hashes, thumbs, max_distance, math.inf, 10**6)

    close = np.bitwise_count(hashes[:, None] ^ hashes[None, :]) <= max_distance
    expected = np.argwhere(np.triu(close, k=1))
    np.testing.assert_array_equal(pairs, expected)
    assert len(expected) >= 100  # the planted partners
    assert skipped == 0 and compared < len(hashes) ** 2 // 20  # and far from all pairs


def test_a_crowded_bucket_is_cut_and_the_cut_is_reported():
    """30 different images with one hash (one pixel changed each): a bucket of 30, 435 pairs."""
    base = _digits()[0]
    images = np.stack(
        [_one_pixel(base, 0, col) for col in range(28)] + [base, _one_pixel(base, 1, 0)]
    )
    assert len(np.unique(perceptual_hashes(images))) == 1
    assert len(np.unique(pixel_digests(images))) == 30

    full = find_duplicates({"train": images}, 0)
    cut = find_duplicates({"train": images}, 0, max_partners=3)

    assert (full.compared, full.skipped, full.counts["train-train"]["near"]) == (435, 0, 29)
    # Each of the 30 meets at most 3 of those after it: 27 * 3 + 2 + 1 = 84 comparisons.
    assert (cut.compared, cut.skipped) == (84, 435 - 84)
    assert "lower bound" in lines(cut)[-1] and "lower bound" not in " ".join(lines(full))


def test_lines_name_the_problem_the_example_and_the_fix():
    report = find_duplicates(_planted(), DISTANCE)
    text = lines(report)

    assert len(text) == sum(n > 0 for c in report.counts.values() for n in c.values()) == 6
    assert (  # a built-in dataset (no file names): only the test side can be fixed
        "Exact copies of train images in test: 1 of 200 (e.g. test #3 = train #10): they "
        "inflate test accuracy. Fix: set prepare.drop_test_duplicates: true." in text
    )
    assert any(
        t.startswith("Exact copies of an earlier train image in train: 2 of 600") for t in text
    )
    near = next(t for t in text if t.startswith("Near-copies") and "of val images in test" in t)
    assert "within 4 bits" in near and "e.g. test #9 ≈ val #40" in near
    assert any(
        t.startswith("Exact copies of train images in val: 1 of 200")
        and t.endswith("val accuracy. Fix: none here: a built-in dataset keeps upstream's files.")
        for t in text
    )
    hyphens = {"my-train": _planted()["train"], "my-test": _planted()["test"]}
    assert any(
        "of my-train images in my-test: 1 of 200" in t for t in lines(find_duplicates(hyphens, 0))
    )
    named = lines(report, names={("test", 3): "shirts/a.png", ("train", 10): "shirts/b.png"})
    assert any(  # a folder: its files can be removed
        "(e.g. shirts/a.png = shirts/b.png): they inflate test accuracy. Fix: set "
        "prepare.drop_test_duplicates: true, or remove them from your folder." in t
        for t in named
    )


def test_phash_matches_imagehash_bit_for_bit():
    """Upscaled grey digits and colour photo crops (down- and upscaled, not square)."""
    require(importlib.util.find_spec("imagehash") is not None, "ImageHash (pip install ImageHash)")
    import imagehash
    from sklearn.datasets import load_sample_images

    rng = np.random.default_rng(0)
    photos = load_sample_images().images  # two (427, 640, 3) uint8
    sets = [_digits()[:500]]
    for h, w in ((48, 40), (24, 40)):  # to 32x32: down in both; up in height, down in width
        tops, lefts = rng.integers(0, 427 - h, 50), rng.integers(0, 640 - w, 50)
        crops = [
            photos[k % 2][t : t + h, x : x + w]
            for k, (t, x) in enumerate(zip(tops, lefts, strict=True))
        ]
        sets.append(np.stack(crops))

    rgb = rng.integers(0, 256, (1, 64, 64, 3), dtype=np.uint8)
    grey = np.asarray(Image.fromarray(rgb[0]).convert("L"))
    np.testing.assert_array_equal(_grey(rgb)[0], grey)  # every rounding of Pillow's luma
    for images in sets:
        pil = [Image.fromarray(im[..., 0] if im.shape[2] == 1 else im) for im in images]
        expected = [int(str(imagehash.phash(p)), 16) for p in pil]
        assert perceptual_hashes(images).tolist() == expected, images.shape


def test_blank_images_hash_alike_at_every_grey_level():
    """Every AC coefficient of a blank image is 0: rounded, they tie, on every machine alike."""
    levels = np.arange(1, 256, 2, dtype=np.uint8)
    blank = np.broadcast_to(levels[:, None, None, None], (len(levels), 28, 28, 1))

    assert set(perceptual_hashes(np.ascontiguousarray(blank)).tolist()) == {1 << 63}  # DC only


def test_pixel_digests_tell_identical_pixels_apart_from_the_rest():
    images = _digits()[:5].copy()
    images[3] = images[1]
    digests = pixel_digests(images)

    assert digests.dtype == np.dtype("S16") and digests[1] == digests[3]
    assert len(np.unique(digests)) == 4
    assert pixel_digests(images.reshape(5, 14, 56, 1))[0] != digests[0]  # same bytes, new shape


def _bad_settings() -> list[tuple[str, dict, str]]:
    bad = [("max_distance", {"max_distance": v}, "max_distance") for v in (-1, MAX_DISTANCE + 1)]
    bad += [("max_distance", {"max_distance": v}, "max_distance") for v in (2.0, "4")]
    bad += [("max_pixel_std", {"max_pixel_std": v}, "max_pixel_std") for v in (-1.0, math.nan)]
    bad += [("max_partners", {"max_partners": v}, "max_partners") for v in (0, -5, 2.5)]
    return bad


@pytest.mark.parametrize(("name", "kwargs", "message"), _bad_settings())
def test_bad_settings_are_named(name, kwargs, message):
    settings = {"max_distance": DISTANCE} | kwargs
    with pytest.raises(ValueError, match=message):
        find_duplicates({"train": _digits()[:3]}, **settings)


@pytest.mark.parametrize(
    "images",
    [np.zeros((3, 28, 28, 1), dtype=t) for t in (np.float32, np.int16, np.uint16, bool)]
    + [np.zeros(shape, dtype=np.uint8) for shape in ((3, 28, 28), (3, 1, 28, 28, 1))]
    + [np.zeros((3, 28, 28, c), dtype=np.uint8) for c in (2, 4)],
    ids=lambda im: f"{im.dtype}{im.shape}",
)
def test_bad_images_are_named(images):
    with pytest.raises(ValueError, match=r"uint8 \(N, H, W, C\)"):
        find_duplicates({"train": images}, DISTANCE)


def test_duplicate_pair_is_a_frozen_value():
    pair = DuplicatePair("exact", ("train", 1), ("test", 2), 0, 0.0)
    with pytest.raises(AttributeError):
        pair.distance = 3  # type: ignore[misc]
    assert pair == DuplicatePair("exact", ("train", 1), ("test", 2), 0, 0.0)
