"""prepare's data checks: duplicates named by file and dropped from test when asked, balance."""

from __future__ import annotations

import numpy as np

from convnets.data.checks import check_data, markdown
from convnets.data.duplicates import pixel_digests
from convnets.data.prepared import PreparedData
from tests.folders import digit_images


def _data(test_copies: list[int]) -> PreparedData:
    """Real digits at 16x16: train, val and test disjoint, then train pictures copied into test."""
    images, labels = digit_images(16)
    x, y = images[..., None], labels
    x_test, y_test = x[1500:1600].copy(), y[1500:1600].copy()
    for slot, source in enumerate(test_copies):
        x_test[slot], y_test[slot] = x[source], y[source]
    classes = tuple(str(d) for d in range(10))
    return PreparedData(
        x[:1200], y[:1200], x[1200:1500], y[1200:1500], x_test, y_test, classes, "d"
    )


def test_test_copies_of_train_are_named_counted_and_dropped_only_when_asked():
    data = _data(test_copies=[5, 17, 300])
    kept, checks = check_data(data, ("a note from ingest",), 4, drop_test_duplicates=False)
    assert len(kept.y_test) == 100 and checks.dropped == 0
    assert checks.duplicates.counts["train-test"]["exact"] == 3
    assert checks.notes[0] == "a note from ingest"
    line = next(n for n in checks.notes if "of train images in test" in n)
    assert line.startswith("Exact copies") and "3 of 100" in line and "Fix:" in line

    dropped, checks = check_data(data, (), 4, drop_test_duplicates=True)
    assert checks.dropped == 3 and len(dropped.y_test) == 97
    # the copies sat in the first three slots: the rest stay, in order, with their labels
    np.testing.assert_array_equal(dropped.x_test, data.x_test[3:])
    np.testing.assert_array_equal(dropped.y_test, data.y_test[3:])
    assert not set(pixel_digests(dropped.x_test).tolist()) & set(
        pixel_digests(data.x_train).tolist()
    )
    assert sum(checks.balance["test"].values()) == 97  # the balance counts what is kept


def test_a_folders_findings_name_both_files_of_an_exact_copy():
    data = _data(test_copies=[5])  # test #0 has train #5's pixels
    files = {"train": {}, "test": {}}
    for source, images in (("train", data.x_train), ("test", data.x_test)):
        for i, digest in enumerate(pixel_digests(images).tolist()):
            files[source].setdefault(digest, []).append(f"{source}/{i}.png")
    _, checks = check_data(data, (), 4, False, files)
    line = next(n for n in checks.notes if "of train images in test" in n)
    assert "(e.g. test/0.png = train/5.png)" in line and "remove them from your folder" in line


def test_imbalanced_classes_get_a_line_and_the_table_lists_every_class():
    data = _data(test_copies=[])
    keep = np.flatnonzero((data.y_train != 3) | (np.arange(len(data.y_train)) % 8 == 0))
    lopsided = PreparedData(
        data.x_train[keep], data.y_train[keep], data.x_val, data.y_val, data.x_test,
        data.y_test, data.classes, "d",
    )  # fmt: skip
    _, checks = check_data(lopsided, (), 4, False)
    assert any(n.startswith("classes are imbalanced") and "'3'" in n for n in checks.notes)
    table = markdown(checks, "d")
    assert all(f"| {name} |" in table for name in data.classes)
    _, balanced = check_data(data, (), 4, False)
    assert not any(n.startswith("classes are imbalanced") for n in balanced.notes)
