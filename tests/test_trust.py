"""Issue 15: photos prepared like the dataset, calibrated probabilities, the OOD score's maths."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from convnets.evaluation import calibration as cal
from convnets.models.building import create_model
from convnets.onnx import convert, sessions
from convnets.onnx.metadata import INPUT, OUTPUT, PROBABILITIES, ModelDescription
from convnets.photos import object_box, prepare

SHAPE = {"layout": "NHWC", "dtype": "uint8", "shape": [28, 28, 1]}


def picture(background: int, box: tuple[int, int, int, int], size=(120, 90), seed=0):
    """A grey picture (H, W) = size: JPEG-like noise on `background`, a textured object in box."""
    rng = np.random.default_rng(seed)
    pixels = np.clip(rng.normal(background, 3, size), 0, 255)
    top, bottom, left, right = box
    ink = 255 - background  # the object contrasts with the background
    pixels[top:bottom, left:right] = np.clip(
        rng.normal(ink, 20, (bottom - top, right - left)), 0, 255
    )
    return pixels.astype(np.uint8)


BOXES = {  # margins on every side, and on one side only
    "centre": (30, 80, 20, 60),
    "top-left": (0, 40, 0, 30),
    "bottom-right": (70, 120, 50, 90),
    "left-edge": (20, 70, 0, 35),
    "bottom-edge": (80, 120, 25, 55),
}


@pytest.mark.parametrize("background", [235, 20])
@pytest.mark.parametrize("where", list(BOXES))
def test_cropping_finds_the_object_on_light_and_dark_backgrounds(background, where):
    box = BOXES[where]
    pixels = picture(background, box)
    assert object_box(pixels[..., None], np.array([float(background)])) == box
    prepared = prepare(Image.fromarray(pixels), 28, 28, grey=True, invert="auto")
    assert prepared.found and prepared.pixels.shape == (28, 28, 1)
    top, bottom, left, right = box
    crop = Image.fromarray(pixels[top:bottom, left:right])
    if background > 127:  # light: inverted so the object is light on black, as in the dataset
        crop = ImageOps.invert(crop)
    fill = 255 - background if background > 127 else background  # then stretched to black
    levels = (np.asarray(crop, dtype=np.float64) - fill) * 255 / (255 - fill)
    crop = Image.fromarray(np.clip(np.round(levels), 0, 255).astype(np.uint8))
    expected = np.asarray(ImageOps.pad(crop, (28, 28), color=0))
    assert np.abs(prepared.pixels[..., 0].astype(int) - expected).max() <= 3
    assert prepared.pixels[0, 0, 0] == 0  # the background is black, as in the dataset


def test_an_image_that_fills_the_frame_or_is_at_the_model_size_is_left_as_it_is():
    tall = picture(20, (0, 120, 30, 60))  # spans the full height: nothing to crop
    prepared = prepare(Image.fromarray(tall), 28, 28, grey=True, invert="never")
    whole = np.asarray(ImageOps.pad(Image.fromarray(tall), (28, 28), color=20))
    assert np.array_equal(prepared.pixels[..., 0], whole)
    small = picture(0, (3, 10, 15, 25), size=(28, 28))  # the dataset's own format
    prepared = prepare(Image.fromarray(small), 28, 28, grey=True, invert="never")
    assert np.array_equal(prepared.pixels[..., 0], small)


def garment() -> np.ndarray:
    """28x28, light on exact black like Fashion-MNIST: a bright body (rows 6-21, columns 9-18)
    with faint sleeves (grey 20) out to columns 4 and 23, below the crop's contrast threshold."""
    pixels = np.zeros((28, 28), np.uint8)
    pixels[6:22, 4:24] = 20
    pixels[6:22, 9:19] = 200
    return pixels


@pytest.mark.parametrize("side", [56, 112, 300])
def test_a_dataset_picture_at_another_size_keeps_the_dataset_framing(side):
    """Saved bigger, the same picture is only scaled back, not cropped to its bright body (which
    would enlarge the garment by a third); a drawing in the explorer is still cropped."""
    original = garment()
    bigger = Image.fromarray(original).resize((side, side), Image.Resampling.BICUBIC)
    back = prepare(bigger, 28, 28, grey=True, invert="auto").pixels[..., 0].astype(int)
    assert np.abs(back - original).mean() < 5  # resampling twice blurs the steps a little
    assert np.array_equal(back[:, 4] > 10, original[:, 4] > 10)  # the sleeves' edge stays put
    cropped = prepare(bigger, 28, 28, grey=True, invert="auto", keep_framing=False).pixels
    assert np.abs(cropped[..., 0].astype(int) - original).mean() > 50


@pytest.mark.parametrize("resampling", ["NEAREST", "BILINEAR", "BICUBIC", "LANCZOS"])
def test_a_dataset_picture_enlarged_by_any_resizer_is_read_back_to_its_own_pixels(resampling):
    """Enlarged 2.7x to 18x, the picture is read back near each original pixel's centre to within
    1 grey level on average; Pillow's antialiased shrink averages wider and is 2.3 to 4 off."""
    original = textured_garment()
    method = getattr(Image.Resampling, resampling)
    for side in (75, 150, 300, 512):
        bigger = Image.fromarray(original).resize((side, side), method)
        back = prepare(bigger, 28, 28, grey=True, invert="auto").pixels[..., 0].astype(int)
        shrunk = np.asarray(ImageOps.pad(bigger, (28, 28))).astype(int)
        errors = np.abs(back - original).mean(), np.abs(shrunk - original).mean()
        assert errors[0] < 1.0 < 2.0 < errors[1], (side, errors)
    wide = Image.fromarray(original).resize((300, 150), method)  # kept whole, centred
    back = prepare(wide, 28, 28, grey=True, invert="auto").pixels[..., 0]
    assert np.array_equal(back[:7], np.zeros((7, 28))) and np.array_equal(back[21:], back[:7])


def textured_garment() -> np.ndarray:
    """garment() with the texture of a real one: smooth noise of 30 grey levels on its body."""
    rng = np.random.default_rng(3)
    pixels = garment().astype(np.float64)
    coarse = Image.fromarray(rng.normal(128, 60, (7, 7)).clip(0, 255).astype(np.uint8))
    texture = np.asarray(coarse.resize((28, 28), Image.Resampling.BICUBIC), dtype=np.float64)
    pixels[pixels > 0] += (texture[pixels > 0] - 128) / 2
    return pixels.clip(0, 255).astype(np.uint8)


@pytest.mark.parametrize("colour", [0, 128, 255])
def test_a_one_colour_picture_is_reported_as_empty(colour):
    flat = Image.new("RGB", (50, 40), (colour, colour, colour))
    prepared = prepare(flat, 32, 32, grey=False, invert="auto")
    assert not prepared.found and prepared.pixels.shape == (32, 32, 3)
    textured = np.random.default_rng(colour).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    assert prepare(Image.fromarray(textured), 32, 32, grey=False, invert="auto").found  # CIFAR


def test_ece_equals_its_closed_form_on_a_known_distribution():
    # half the inputs at confidence 0.95 and 80% right, half at 0.65 and 60% right:
    # ECE = 0.5 * |0.80 - 0.95| + 0.5 * |0.60 - 0.65| = 0.10
    confidence = np.repeat([0.95, 0.65], 1000)
    right = np.concatenate([np.arange(1000) < 800, np.arange(1000) < 600])
    probabilities = np.stack([confidence, 1 - confidence], axis=1)
    labels = np.where(right, 0, 1)
    result = cal.reliability(probabilities, labels)
    assert result["ece"] == pytest.approx(0.10, abs=1e-9)
    assert sum(b["count"] for b in result["bins"]) == 2000 and len(result["bins"]) == 15


def overconfident(n: int, seed: int):
    """Logits 8x too sharp: right 70% of the time, yet the top softmax is near 1."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 5, n)
    guess = np.where(rng.random(n) < 0.7, labels, rng.integers(0, 5, n))
    logits = rng.normal(0, 1, (n, 5)) + 3 * np.eye(5)[guess]
    return 8 * logits, labels


def test_temperature_fitted_on_validation_lowers_test_nll():
    val, val_labels = overconfident(2000, seed=0)
    test, test_labels = overconfident(2000, seed=1)
    t = cal.fit_temperature(val, val_labels)
    assert 4 < t < 16  # undoes the factor 8, roughly
    assert cal.nll(test, test_labels, t) < 0.5 * cal.nll(test, test_labels)
    before = cal.reliability(cal.softmax(test), test_labels)["ece"]
    assert cal.reliability(cal.softmax(test, t), test_labels)["ece"] < before / 2


def test_auroc_and_the_95_percent_threshold():
    rng = np.random.default_rng(0)
    inside, outside = rng.normal(1, 1, 4000), rng.normal(0, 1, 4000)
    assert cal.auroc(inside, outside) == pytest.approx(0.760, abs=0.02)  # Phi(1 / sqrt(2))
    assert cal.auroc(np.ones(5), np.ones(7)) == 0.5  # ties count half
    threshold = cal.threshold_for(inside)
    assert (inside >= threshold).mean() == pytest.approx(0.95, abs=0.001)
    assert cal.false_positive_rate(outside, threshold) == (outside >= threshold).mean()


def test_the_onnx_probabilities_are_the_softmax_of_logits_over_t():
    torch.manual_seed(0)
    model = create_model("cnn", 1, 4, 28, {"channels": [4, 8], "hidden": 16}).eval()
    ood = {"score": "energy", "threshold": 0.0}
    description = ModelDescription(classes=tuple("abcd"), input=SHAPE, temperature=2.5, ood=ood)
    fp32 = convert.export_onnx(model, description)
    convert.check(fp32, "fp32")
    images = np.random.default_rng(0).integers(0, 256, (6, 28, 28, 1), dtype=np.uint8)
    logits, probabilities = sessions.onnx_session(fp32, 1).run(
        [OUTPUT, PROBABILITIES], {INPUT: images}
    )
    np.testing.assert_allclose(probabilities, cal.softmax(logits, 2.5), atol=1e-6)
    assert not np.allclose(probabilities, cal.softmax(logits), atol=1e-3)


def test_the_report_shows_the_reliability_diagram_and_the_ood_table(tmp_path):
    from convnets.report.html import render_page
    from convnets.report.sections import Canvas, trust_section

    labels = np.arange(200) % 4
    logits = 3 * np.eye(4)[labels] + np.random.default_rng(0).normal(0, 1.5, (200, 4))
    bins = {
        "before": cal.reliability(cal.softmax(logits), labels)["bins"],
        "after": cal.reliability(cal.softmax(logits, 1.3), labels)["bins"],
    }
    one = {"images": 10, "auroc": {"max_probability": 0.91, "energy": 0.87}}
    export = {
        "variant": "cnn",
        "calibration": {
            "temperature": 1.3,
            "test": {"before": {"ece": 0.05, "nll": 0.4}, "after": {"ece": 0.01, "nll": 0.3}},
            "bins": bins,
        },
        "ood": {
            "score": "max_probability",
            "threshold": 0.6,
            "test_pass_rate": 0.95,
            "sets": {"digits": one | {"fpr_at_95_tpr": 0.2, "flagged_by_predict": 0.8}},
        },
    }
    canvas = Canvas(tmp_path / "figures", tmp_path / "index.html")
    html = render_page("t", "s", [trust_section(canvas, export)])
    assert (tmp_path / "figures/reliability.png").is_file()
    assert "T = 1.300" in html and "0.0100" in html and "digits" in html and "0.910" in html


def quadrant_lengths(images: np.ndarray) -> np.ndarray:
    """Stand-in capsule lengths in [0, 1]: each quadrant's mean brightness, (N, 4)."""
    h = images.shape[1] // 2
    quads = [images[:, r * h : (r + 1) * h, c * h : (c + 1) * h] for r in (0, 1) for c in (0, 1)]
    return np.stack([q.mean(axis=(1, 2, 3)) / 255.0 for q in quads], axis=1)


def test_capsule_lengths_keep_temperature_1_no_softmax_and_the_top_length_as_ood_score():
    from convnets.data.prepared import PreparedData
    from convnets.evaluation.trust import fit_trust
    from convnets.onnx.metadata import MetadataError
    from tests.fakes import quadrant_images

    x, y = quadrant_images(10)
    xt, yt = quadrant_images(5, seed=1)
    data = PreparedData(x[:20], y[:20], x[20:], y[20:], xt, yt, tuple("abcd"), "quadrants")
    trust = fit_trust(quadrant_lengths, data, quadrant_lengths(xt), False, 10, 0)
    assert trust.temperature == 1.0 and trust.ood["score"] == "max_probability"
    test = trust.metrics["calibration"]["test"]
    assert test["before"] == test["after"] and test["after"]["nll"] is None
    assert set(trust.metrics["ood"]["sets"]["digits"]["auroc"]) == {"max_probability"}
    ood = {"score": "max_probability", "threshold": 0.5}
    lengths = ModelDescription(("a",), SHAPE, scores="capsule_lengths", temperature=2.0, ood=ood)
    with pytest.raises(MetadataError, match="capsule lengths take temperature 1"):
        ModelDescription.from_props(lengths.to_props())
