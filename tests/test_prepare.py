"""Decoding upstream formats and the seeded, stratified split."""

from __future__ import annotations

import numpy as np
import pytest

from convnets.data.datasets import FASHION_MNIST
from convnets.data.decode import decode, read_idx
from convnets.data.fetch import Source, download_dataset
from convnets.data.prepared import (
    channel_stats,
    load_prepared,
    make_splits,
    save_prepared,
    summarize,
)
from convnets.errors import ConvnetsError
from tests.fakes import idx_bytes
from tests.require import require_fashion_mnist


def labelled(n_per_class: int, classes: int = 10, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), n_per_class)
    rng.shuffle(y)
    x = rng.integers(0, 256, (len(y), 8, 8, 1), dtype=np.uint8)
    x[:, 0, 0, 0] = np.arange(len(y)) % 256  # make rows distinguishable
    return x, y.astype(np.int64)


CLASSES = tuple(str(i) for i in range(10))


def test_idx_round_trip_and_corruptions(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    good = tmp_path / "good"
    good.write_bytes(idx_bytes(array))
    np.testing.assert_array_equal(read_idx(good), array)
    truncated = tmp_path / "cut"
    truncated.write_bytes(idx_bytes(array)[:-1])
    with pytest.raises(ConvnetsError, match="implies"):
        read_idx(truncated)
    bad_magic = tmp_path / "magic"
    bad_magic.write_bytes(b"\x01" + idx_bytes(array)[1:])
    with pytest.raises(ConvnetsError, match="magic"):
        read_idx(bad_magic)


def test_decode_idx_after_download(tiny_idx, tmp_path):
    download_dataset(tiny_idx.spec, tmp_path, [Source(str(tiny_idx.folder))], 5)
    (x, y), (_, yt) = decode(tmp_path, tiny_idx.spec)
    assert x.shape == (60, 28, 28, 1) and x.dtype == np.uint8 and y.dtype == np.int64
    np.testing.assert_array_equal(x[..., 0], tiny_idx.arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(yt, tiny_idx.arrays["t10k-labels-idx1-ubyte"])


def test_decode_missing_file_names_download_stage(tmp_path):
    with pytest.raises(ConvnetsError, match="dvc repro download"):
        decode(tmp_path, FASHION_MNIST)


def test_split_is_stratified_disjoint_and_seeded():
    train, test = labelled(20), labelled(5, seed=1)
    data = make_splits(train, test, CLASSES, val_fraction=0.2, subset=0, seed=7, dataset="tiny")
    assert np.bincount(data.y_val).tolist() == [4] * 10
    assert np.bincount(data.y_train).tolist() == [16] * 10
    train_rows = {row.tobytes() for row in data.x_train}
    assert not train_rows & {row.tobytes() for row in data.x_val}
    np.testing.assert_array_equal(data.x_test, test[0])  # the test set is untouched
    again = make_splits(train, test, CLASSES, 0.2, 0, seed=7, dataset="tiny")
    other = make_splits(train, test, CLASSES, 0.2, 0, seed=8, dataset="tiny")
    np.testing.assert_array_equal(again.y_val, data.y_val)
    np.testing.assert_array_equal(again.x_val, data.x_val)
    assert not np.array_equal(other.x_val, data.x_val)


def test_subset_caps_each_class():
    data = make_splits(labelled(20), labelled(9), CLASSES, 0.5, subset=6, seed=0, dataset="tiny")
    assert np.bincount(data.y_train).tolist() == [3] * 10
    assert np.bincount(data.y_test).tolist() == [6] * 10


def test_split_too_small_for_every_class_is_refused():
    with pytest.raises(ConvnetsError, match="val_fraction"):
        make_splits(labelled(2), labelled(1), CLASSES, 0.1, 0, seed=0, dataset="tiny")


def test_channel_stats_on_known_values():
    images = np.zeros((2, 1, 2, 3), dtype=np.uint8)
    images[0, ..., 0] = 255
    images[..., 1] = 51
    mean, std = channel_stats(images)
    np.testing.assert_allclose(mean, [0.5, 0.2, 0.0])
    np.testing.assert_allclose(std, [0.5, 0.0, 0.0], atol=1e-12)


def test_prepared_round_trip_and_summary(tmp_path):
    data = make_splits(labelled(10), labelled(3), CLASSES, 0.2, 0, seed=0, dataset="tiny")
    save_prepared(tmp_path / "p.npz", data)
    back = load_prepared(tmp_path / "p.npz")
    assert back.classes == CLASSES
    np.testing.assert_array_equal(back.x_val, data.x_val)
    summary = summarize(back)
    assert summary["sizes"] == {"train": 80, "val": 20, "test": 30}
    assert summary["counts"]["val"]["3"] == 2


def test_prepared_with_bad_labels_is_refused(tmp_path):
    data = make_splits(labelled(10), labelled(3), CLASSES, 0.2, 0, seed=0, dataset="tiny")
    data.y_test[0] = 42
    save_prepared(tmp_path / "p.npz", data)
    with pytest.raises(ConvnetsError, match="labels outside"):
        load_prepared(tmp_path / "p.npz")


def test_real_fashion_mnist_split_sizes(tmp_path):
    fashion = str(require_fashion_mnist())
    download_dataset(FASHION_MNIST, tmp_path, [Source(fashion)], 5)
    train, test = decode(tmp_path, FASHION_MNIST)
    data = make_splits(train, test, FASHION_MNIST.classes, 0.1, 0, seed=42, dataset="fashion-mnist")
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (54000, 6000, 10000)
    assert np.bincount(data.y_val).tolist() == [600] * 10
    assert len(data.classes) == 10
