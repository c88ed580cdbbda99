"""`convnets predict` with the Fashion-MNIST run's model, on pictures the run never measured.

Export measures how often the unsure check lets test images pass; a user's ordinary pictures must
be flagged at that rate, neither more (a check that cries wolf) nor less. A product photo, the
garment off-centre on light paper, must be cropped to the garment before the model sees it. Both
run the real `convnets predict --json` (tests/photo_like.py) on files, as a user would.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image

from convnets.data.datasets import get_dataset
from convnets.data.decode import read_idx_split
from tests.photo_like import agreement, photo_like, predict, resized

pytestmark = pytest.mark.slow  # the shared pipeline run, and `convnets predict` in a subprocess

ORDINARY = 400  # fresh test images for the unsure rate
PHOTOS = 50  # of them, made photo-like


@pytest.fixture(scope="module")
def fresh(fashion_repo) -> np.ndarray:
    """A seeded sample of upstream's test images that the run's test split left out:
    uint8 (ORDINARY, 28, 28), ordinary pictures on which nothing was measured."""
    raw = fashion_repo / "data/raw/fashion-mnist"
    images = read_idx_split(raw, get_dataset("fashion-mnist"), "t10k")[0][..., 0]
    prepared = fashion_repo / "data/prepared/fashion-mnist.npz"
    with np.load(prepared, allow_pickle=False) as data:
        measured = {image.tobytes() for image in data["x_test"]}
    unseen = [i for i, image in enumerate(images) if image.tobytes() not in measured]
    return images[np.random.default_rng(0).choice(unseen, ORDINARY, replace=False)]


def test_ordinary_pictures_are_flagged_unsure_at_the_rate_export_measured(
    fashion_repo, fresh, tmp_path
):
    for i, image in enumerate(fresh):
        Image.fromarray(image).save(tmp_path / f"{i:03d}.png")
    rows = predict(fashion_repo, tmp_path)
    assert len(rows) == ORDINARY
    flagged = sum(row["unsure"] for row in rows)
    ood = json.loads((fashion_repo / "reports/export/metrics.json").read_text())["ood"]
    prepared = fashion_repo / "data/prepared/fashion-mnist.npz"
    with np.load(prepared, allow_pickle=False) as data:
        measured_on = len(data["y_test"])
    flagged_by_export = round((1 - ood["test_pass_rate"]) * measured_on)
    # Two samples of one rate (the threshold lets the same share of every ordinary picture
    # pass): the difference of the shares has a standard error of sqrt(p (1 - p) (1/n + 1/m)),
    # p pooled. Four of them: a false alarm once in 16,000 runs. Measured on this run's model:
    # 6.5 to 7.8% of 400 against export's 9.0% of 300 (SE 2.0 points). A predict that forgets
    # the temperature flags 53%; one that inverts every picture, 0.25%.
    share, expected = flagged / ORDINARY, flagged_by_export / measured_on
    pooled = (flagged + flagged_by_export) / (ORDINARY + measured_on)
    error = math.sqrt(pooled * (1 - pooled) * (1 / ORDINARY + 1 / measured_on))
    assert abs(share - expected) <= 4 * error, (
        f"predict flagged {share:.1%} of {ORDINARY} ordinary test images unsure; export measured "
        f"{expected:.1%} of {measured_on}, so at most {4 * error:.1%} apart"
    )


def label_agreement(repo, images: np.ndarray, changed, folder) -> float:
    """The share of `images` whose label through predict is that of the 28x28 PNG, once each is
    saved as `changed(image)` gives it: (picture, suffix, JPEG quality)."""
    plain, other = folder / "plain", folder / "changed"
    plain.mkdir()
    other.mkdir()
    for i, image in enumerate(images):
        Image.fromarray(image).save(plain / f"{i:03d}.png")
        picture, suffix, quality = changed(image)
        picture.save(other / f"{i:03d}{suffix}", quality=quality)
    return agreement(predict(repo, other), predict(repo, plain))


def test_a_photo_of_a_garment_is_cropped_to_it_and_keeps_its_label(fashion_repo, fresh, tmp_path):
    """photo_like inverts the garment, scales it to 90-169 pixels and darkens it onto a 200x240
    light grey canvas at a random offset, as a JPEG. Only inversion, the crop to the object and
    the level stretch bring it back to the dataset's framing; padded whole, the garment would
    be 10 to 19 pixels tall in the model's 28."""
    rng = np.random.default_rng(1)
    photo = lambda image: (photo_like(image, rng), ".jpg", 85)  # noqa: E731
    same = label_agreement(fashion_repo, fresh[:PHOTOS], photo, tmp_path)
    # The photo's label against the model's own label for the picture as the dataset has it (the
    # tiny model is right 40% of the time either way, and wrong alike). Measured on this run's
    # model: 82 to 85% the same; with the crop skipped (the object's box always the whole
    # photo), 14%. At least 60%: 4 standard errors below 83% for 50 photos, 8 above 14%.
    assert same >= 0.6, f"{same:.0%} of {PHOTOS} photos kept their label (at least 60% wanted)"


def test_a_test_image_saved_at_another_size_mostly_keeps_its_label(fashion_repo, fresh, tmp_path):
    """The dataset's own picture at 28 to 512 pixels, grey or RGB, PNG or JPEG (tests/photo_like).
    The run's one-epoch model is unsure of most pictures, so the blur of scaling twice flips some
    labels; the framing itself is tested in test_predict.py, on a model that depends on it."""
    rng = np.random.default_rng(2)
    same = label_agreement(fashion_repo, fresh[:200], lambda i: (*resized(i, rng), 90), tmp_path)
    # Measured on this run's model: 94.5% of 200 (94.0% when cropped to the garment: this model
    # cannot tell). The default VGG keeps 97.9% of 1,000 (docs/predict.md).
    assert same >= 0.85, f"{same:.0%} of 200 resized pictures kept their label"
