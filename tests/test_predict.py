"""`convnets predict`: same labels as the evaluate path, no torch, and every bad input."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from PIL import Image

from convnets.evaluation.inference import predict_logits
from convnets.models.building import create_model
from convnets.onnx.convert import export_onnx
from convnets.onnx.metadata import ModelDescription
from convnets.predict import main as predict_main
from convnets.runtime import resolve_runtime
from convnets.training.distributed import World
from tests.conftest import QUADRANTS
from tests.fakes import quadrant_images
from tests.photo_like import resized
from tests.test_training import settings


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A tiny CNN trained on the quadrant task and exported: (torch model, ONNX path)."""
    from convnets.training.loop import fit

    torch.manual_seed(0)
    net = create_model("cnn", 1, 4, 28, {"channels": [4, 8], "hidden": 16})
    x, y = quadrant_images(30)
    to_t = lambda a: torch.from_numpy(a).permute(0, 3, 1, 2).contiguous()  # noqa: E731
    fit(
        net,
        (to_t(x), torch.from_numpy(y)),
        (to_t(x[:20]), torch.from_numpy(y[:20])),
        settings(epochs=3, batch_augment=None),
        resolve_runtime("cpu", "fp32", 1),
        World(),
        0,
    )
    path = tmp_path_factory.mktemp("model") / "best.onnx"
    shape = {"layout": "NHWC", "dtype": "uint8", "shape": [28, 28, 1]}
    ood = {"score": "max_probability", "threshold": 0.0}  # nothing unsure but blank images
    description = ModelDescription(classes=QUADRANTS, input=shape, ood=ood)
    path.write_bytes(export_onnx(net.eval(), description))
    return net, path


@pytest.fixture
def pngs(tmp_path):
    """Twelve quadrant images as PNG files: (folder, uint8 images (N, H, W, 1), true labels)."""
    images, labels = quadrant_images(3, seed=5)
    folder = tmp_path / "images"
    folder.mkdir()
    for i, image in enumerate(images):
        Image.fromarray(image[..., 0]).save(folder / f"{i:02d}.png")
    return folder, images, [QUADRANTS[i] for i in labels]


def run(capsys, *argv) -> tuple[int, str, str]:
    code = predict_main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_predict_agrees_with_the_evaluate_path(model, pngs, capsys):
    net, path = model
    folder, images, truth = pngs
    code, out, _ = run(capsys, folder, "--model", path, "--json", "--top-k", "2")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    logits = predict_logits(
        net, torch.from_numpy(images).permute(0, 3, 1, 2), resolve_runtime("cpu", "fp32", 1)
    )
    expected = [QUADRANTS[i] for i in logits.argmax(1).tolist()]
    assert [row["top_k"][0]["label"] for row in rows] == expected == truth
    assert all(len(row["top_k"]) == 2 for row in rows)
    probabilities = logits.softmax(1).max(1).values.tolist()
    for row, p in zip(rows, probabilities, strict=True):
        assert row["top_k"][0]["probability"] == pytest.approx(p, abs=1e-5)


def top_label(capsys, image: Path, model: Path, *options: str) -> str:
    """The table output's one label for `image` (`path<TAB>label (p)`)."""
    code, out, err = run(capsys, image, "--model", model, "--top-k", "1", *options)
    assert code == 0 and out.count("\t") == 1, err
    return out.split("\t")[1].split(" (")[0]


def test_light_background_is_inverted_to_the_right_class(model, pngs, tmp_path, capsys):
    """A light-background picture of image 0 (dark square on white, RGB JPEG, at the model's
    size, so that the crop to the object, which would centre the square and lose its quadrant,
    leaves it as it is): `--invert auto` restores MNIST polarity and finds the true quadrant;
    `--invert never` shows the model the wrong polarity, where the square is the dark one."""
    _, path = model
    folder, images, truth = pngs
    light = tmp_path / "light.jpg"
    Image.fromarray(255 - images[0, ..., 0]).convert("RGB").save(light, quality=95)
    assert top_label(capsys, folder / "00.png", path) == truth[0]
    assert top_label(capsys, light, path, "--invert", "auto") == truth[0]
    assert top_label(capsys, light, path, "--invert", "never") != truth[0]


@pytest.mark.parametrize("suffix", [".jpg", ".bmp", ".webp", ".png"])
def test_every_common_format_and_mode_gives_the_true_label(suffix, model, pngs, tmp_path, capsys):
    """Image 1 saved as RGB in `suffix`'s format and as RGBA PNG: both true. (At the model's
    size: a crop to the object would centre the quadrant's square; photos.py is tested apart.)"""
    _, path = model
    _, images, truth = pngs
    picture = Image.fromarray(images[1, ..., 0]).convert("RGB")
    target = tmp_path / f"wide{suffix}"
    picture.save(target)
    rgba = tmp_path / "transparent.png"
    picture.convert("RGBA").save(rgba)
    assert top_label(capsys, target, path) == truth[1]
    assert top_label(capsys, rgba, path) == truth[1]


def test_a_picture_saved_at_another_size_gets_the_label_of_the_original(
    model, pngs, tmp_path, capsys
):
    """Quadrant pictures on black (the dataset's framing) saved at 28 to 512 pixels, grey or RGB,
    PNG or JPEG, are only scaled back: each keeps its quadrant, so its label. Cropped to the
    bright square instead, every one would be centred and lose it."""
    _, path = model
    _, images, truth = pngs
    on_black = np.where(images > 100, images, 0).astype(np.uint8)[..., 0]
    folder = tmp_path / "resized"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i, image in enumerate(on_black):
        picture, suffix = resized(image, rng)
        picture.save(folder / f"{i:02d}{suffix}", quality=90)
    code, out, _ = run(capsys, folder, "--model", path, "--json", "--top-k", "1")
    assert code == 0
    labels = [json.loads(line)["top_k"][0]["label"] for line in out.splitlines()]
    assert labels == truth


@pytest.mark.slow  # spawns a process
def test_predict_never_imports_torch_or_onnx(model, pngs):
    """Neither is needed to classify; importing `onnx` alone took 0.73 s, several times the rest."""
    _, path = model
    folder, *_ = pngs
    script = (
        "import sys; from convnets.cli import main; "
        f"code = main(['predict', {str(folder)!r}, '--model', {str(path)!r}]); "
        "heavy = {'torch', 'onnx'} & set(sys.modules); "
        "assert not heavy, f'{heavy} imported'; sys.exit(code)"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 12


def huge_png(path: Path) -> None:
    """A PNG whose header claims 30000 x 30000 pixels: Pillow's bomb check must refuse it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def bad_inputs(tmp_path: Path, pngs) -> dict[str, tuple[Path, str]]:
    folder, *_ = pngs
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    whole = (folder / "00.png").read_bytes()
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(whole[: len(whole) // 2])
    bomb = tmp_path / "bomb.png"
    huge_png(bomb)
    return {
        "text named .png": (text, "not an image Pillow can read"),
        "zero bytes": (empty, "an empty file"),
        "truncated": (truncated, "damaged or truncated image"),
        "decompression bomb": (bomb, "decompression bomb"),
    }


@pytest.mark.parametrize(
    "case", ["text named .png", "zero bytes", "truncated", "decompression bomb"]
)
def test_bad_image_fails_alone_and_good_ones_are_still_classified(
    case, model, pngs, tmp_path, capsys
):
    _, path = model
    folder, *_ = pngs
    bad, message = bad_inputs(tmp_path, pngs)[case]
    code, out, err = run(capsys, folder / "00.png", bad, folder / "01.png", "--model", path)
    assert code == 1
    assert [line.split("\t")[0] for line in out.splitlines()] == [
        str(folder / "00.png"),
        str(folder / "01.png"),
    ]
    assert len(err.splitlines()) == 1 and message in err and str(bad) in err
    assert "Traceback" not in err


def test_missing_path_and_folder_without_images(model, tmp_path, capsys):
    _, path = model
    code, _, err = run(capsys, tmp_path / "nope.png", "--model", path)
    assert code == 1 and "no such file or folder" in err
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "readme.txt").write_text("hi")
    code, _, err = run(capsys, tmp_path / "docs", "--model", path)
    assert code == 1 and "no image files" in err


def external_data_model(tmp_path: Path, source: Path) -> Path:
    proto = onnx.load(str(source))
    target = tmp_path / "external" / "model.onnx"
    target.parent.mkdir()
    onnx.save(
        proto, str(target), save_as_external_data=True, location="weights.bin", size_threshold=0
    )
    return target


@pytest.mark.parametrize("kind", ["missing", "pointer", "truncated", "garbage", "external"])
def test_bad_models_are_refused_in_one_line(kind, model, pngs, tmp_path, capsys):
    _, good = model
    folder, *_ = pngs
    bad = tmp_path / "best.onnx"
    expected = {
        "missing": "not found",
        "pointer": "DVC pointer file",
        "truncated": "not a valid ONNX model",
        "garbage": "not a valid ONNX model",
        "external": "external data",
    }[kind]
    if kind == "pointer":
        bad.write_text("outs:\n- md5: 0123456789abcdef0123456789abcdef\n  path: best.onnx\n")
    elif kind == "truncated":
        bad.write_bytes(good.read_bytes()[:500])
    elif kind == "garbage":
        bad.write_bytes(np.random.default_rng(0).bytes(4096))
    elif kind == "external":
        bad = external_data_model(tmp_path, good)
    code, out, err = run(capsys, folder, "--model", bad)
    assert code == 1 and out == ""
    assert len(err.splitlines()) == 1 and expected in err and "Traceback" not in err
    if kind != "external":
        assert "dvc pull" in err or "dvc repro export" in err


CORRUPT_TRUST = {  # metadata key -> a bad value (None: the key removed)
    "temperature": [None, "abc", "-1", "0", "NaN", "true", '"2"'],
    "ood": [None, "{}", '{"score": "energy"}', '{"score": "max", "threshold": 0.5}', "[1]"],
}


@pytest.mark.parametrize(
    "key,value", [(k, v) for k, values in CORRUPT_TRUST.items() for v in values]
)
def test_a_missing_or_corrupt_temperature_or_threshold_is_refused(
    key, value, model, pngs, tmp_path, capsys
):
    _, good = model
    proto = onnx.load(str(good))
    props = {p.key: p.value for p in proto.metadata_props}
    if value is None:
        del props[f"convnets.{key}"]
    else:
        props[f"convnets.{key}"] = value
    del proto.metadata_props[:]
    for k, v in props.items():
        proto.metadata_props.add(key=k, value=v)
    bad = tmp_path / "best.onnx"
    onnx.save(proto, str(bad))
    code, out, err = run(capsys, pngs[0], "--model", bad)
    assert code == 1 and out == ""
    assert len(err.splitlines()) == 1 and f"convnets.{key}" in err
    assert "dvc repro export" in err and "Traceback" not in err


def test_one_colour_pictures_are_unsure_not_crashed(model, tmp_path, capsys):
    _, path = model
    for colour in (0, 90, 255):
        Image.new("L", (40, 30), colour).save(tmp_path / f"flat{colour}.png")
    code, out, _ = run(capsys, tmp_path, "--model", path, "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(rows) == 3
    assert all(row["unsure"] is True and isinstance(row["ood_score"], float) for row in rows)
    code, out, _ = run(capsys, tmp_path / "flat90.png", "--model", path)
    assert out.rstrip("\n").endswith("\tunsure: unlike the training data")
