"""The visual report: figure functions on tiny inputs, known-answer checks of the inspection
maths, and the whole stage on 1- and 3-channel toy data."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from torch import nn

from convnets.figures import filters, layers
from convnets.figures.projection import embed_2d
from convnets.figures.style import save_figure
from convnets.figures.top_patches import Peaks, crop, top_activations
from convnets.models.building import create_model
from convnets.report import sections as report
from convnets.report.attribution import grad_cam, saliency
from convnets.report.html import render_page
from convnets.report.inspection import conv_layers, map_layers, measure_receptive_field
from convnets.report.maximization import AscentSettings, FourierSettings, class_images
from tests.conftest import QUADRANTS, run_stage, train_stage
from tests.fakes import quadrant_images
from tests.test_capsnet import TINY as TINY_CAPSNET


def test_top_activations_finds_the_planted_peaks():
    maps = np.zeros((5, 2, 4, 4), np.float32)  # (N, C, H, W)
    maps[3, 0, 1, 2] = 9.0  # channel 0: strongest in image 3 at (1, 2)
    maps[1, 0, 0, 0] = 5.0
    maps[1, 0, 3, 3] = 4.0  # a weaker second peak in image 1 must not count twice
    maps[4, 1, 2, 1] = 7.0  # channel 1: image 4 at (2, 1)
    halves = [Peaks.of(maps[:2]), Peaks.of(maps[2:])]
    top = top_activations(Peaks.concat(halves), k=2)
    assert top[0] == [(9.0, 3, 1, 2), (5.0, 1, 0, 0)]
    assert top[1][0] == (7.0, 4, 2, 1)


def test_receptive_field_matches_the_arithmetic():
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Conv2d(4, 4, 3, padding=1)
    )
    # conv 3 -> pool: 4 pixels, jump 2 -> conv: 4 + 2 * 2 = 8 pixels; padding puts the
    # first window at -1, then -1 - 2 = -3.
    field = measure_receptive_field(net, net[3], (1, 16, 16))
    assert (field.size, field.jump, field.start) == (8, 2, -3)
    assert field.box(1, 2) == (-1, 1, 7, 9)
    assert field.box(1, 2, side=4) == (1, 3, 5, 7)  # the centre of the field, as the explorer crops
    first = measure_receptive_field(net, net[0], (1, 16, 16))
    assert (first.size, first.jump, first.start) == (3, 1, -1)


def test_crop_pads_where_the_box_hangs_over_the_border():
    image = np.arange(16, dtype=np.uint8).reshape(4, 4, 1)
    patch = crop(image, (-1, 2, 2, 5))
    assert patch.shape == (3, 3, 1)
    assert patch[0].tolist() == [[0], [0], [0]]  # the row above the image
    assert patch[1:, :2, 0].tolist() == [[2, 3], [6, 7]]
    assert patch[1:, 2, 0].tolist() == [0, 0]  # the column right of the image


def test_shape_panels_follow_the_output_size_formula():
    panels = filters.shape_panels(np.zeros((28, 28, 1), np.uint8))
    shapes = [data.shape for _, data in panels]
    assert shapes == [(28, 28), (26, 26), (28, 28), (13, 13), (14, 14), (14, 14), (14, 14)]
    for title, data in panels:
        assert f"{data.shape[0]}x{data.shape[1]}" in title


def test_sobel_x_sees_vertical_edges_only():
    image = np.zeros((8, 8), np.float32)
    image[:, 4:] = 1.0  # a vertical edge
    vertical = filters.convolve(image, filters.CLASSIC_KERNELS["Sobel x (vertical edges)"])
    horizontal = filters.convolve(image, filters.CLASSIC_KERNELS["Sobel y (horizontal edges)"])
    assert np.abs(vertical[1:-1, 3:5]).min() == 4.0
    assert np.abs(horizontal[1:-1]).max() == 0.0


def test_high_pass_removes_the_mean_and_keeps_edges():
    image = np.full((16, 16), 0.5)
    image[:, 8:] = 1.0
    filtered = filters.high_pass(image, keep_radius=1.0)
    assert abs(filtered.mean()) < 1e-9  # the zero frequency is gone
    assert np.abs(filtered[:, 7:9]).mean() > np.abs(filtered[:, 2:4]).mean()


@pytest.mark.parametrize("channels", [1, 3])
def test_kernel_and_layer_figures_have_one_panel_per_item(tmp_path, channels):
    images, _ = quadrant_images(1, size=16, channels=channels)
    kernels = {**filters.CLASSIC_KERNELS, "mine": [[0, 0, 0], [0, 1, 0], [0, 0, 0]]}
    fig = filters.kernels_figure(images[:2], kernels)
    assert len(fig.axes) == 2 * (1 + len(kernels))
    save_figure(fig, tmp_path / "k.png")
    weight = torch.randn(10, channels, 3, 3)
    assert sum(ax.has_data() for ax in layers.filters_figure(weight, "conv").axes) == 10
    patches = [np.zeros((5, 5, channels), np.uint8)] * 9
    fig = layers.top_patches_figure({"a": [(0, patches), (3, patches)], "b": [(1, patches)]}, "t")
    assert sum(ax.has_data() for ax in fig.axes) == 3
    assert layers.mosaic(patches).shape == (17, 17, channels)


def _toy_model(channels: int = 1) -> nn.Module:
    model = create_model("cnn", channels, 4, 16, {"channels": [4, 8], "hidden": 8})
    return model.eval()


def test_saliency_and_grad_cam_give_one_unit_scaled_map_per_image():
    model = _toy_model()
    x = torch.rand(3, 1, 16, 16)
    targets = torch.tensor([0, 1, 2])
    for maps in (
        saliency(model, x, targets),
        grad_cam(model, conv_layers(model)[-1][1], x, targets),
    ):
        assert maps.shape == (3, 16, 16)
        assert maps.min() >= 0 and maps.max() <= 1 + 1e-6


@pytest.mark.parametrize(
    "settings",
    [AscentSettings(steps=30, lr=0.1), FourierSettings(steps=30)],
    ids=["pixels", "fourier"],
)
def test_activation_maximization_raises_the_class_scores(settings):
    torch.manual_seed(0)
    model = _toy_model()
    start = torch.full((4, 1, 16, 16), 0.5)
    dreams = class_images(model, (1, 16, 16), 4, settings, seed=0)
    targets = torch.arange(4)[:, None]
    with torch.no_grad():
        before = model(start).gather(1, targets)
        after = model(dreams).gather(1, targets)
    assert dreams.shape == (4, 1, 16, 16) and dreams.min() >= 0 and dreams.max() <= 1
    assert (after > before).all()


@pytest.mark.slow  # fits a projection
def test_embed_2d_gives_two_coordinates_per_image():
    features = np.random.default_rng(0).normal(size=(40, 6))
    points = embed_2d(features, seed=0)
    assert set(points) == {"PCA", "t-SNE"}
    assert all(xy.shape == (40, 2) for xy in points.values())


def test_map_layers_lists_convs_and_pools_in_order():
    names = [type(m).__name__ for _, m in map_layers(_toy_model())]
    assert names[:2] == ["Conv2d", "MaxPool2d"] and names.count("Conv2d") == 2


def test_render_page_escapes_text_and_links_every_figure():
    section = report.Section("s1", "A <b>", "x & y", [report.FigureLink("report/a.png", "cap")])
    page = render_page("T", "summary", [section])
    assert '<section id="s1">' in page and "A &lt;b&gt;" in page and "x &amp; y" in page
    assert '<img src="report/a.png" alt="cap">' in page
    assert "<script" not in page


def _train_evaluate_compare(workdir, variants) -> None:
    for variant in variants:
        assert train_stage(variant, f"ckpt/{variant}.pt", f"live/{variant}") == 0
        assert run_stage(
            "evaluate", "--variant", variant, "--checkpoint", f"ckpt/{variant}.pt",
            "--prepared", "prepared.npz", "--out", f"evaluate/{variant}",
        ) == 0  # fmt: skip
        assert run_stage(
            "corruptions", "--variant", variant, "--checkpoint", f"ckpt/{variant}.pt",
            "--prepared", "prepared.npz", "--out", f"corruptions/{variant}.json",
        ) == 0  # fmt: skip
    assert run_stage(
        "compare", "--evaluations", "evaluate", "--timings", "live", "--table", "board",
        "--plot", "tradeoff.png", "--corruptions", "corruptions",
        "--corruption-plot", "corruptions.png",
        "--best", "best.json", "--summary", "summary.json", "--curves", "curves.csv",
        "--confusion", "confusion.json", "--checkpoints", "ckpt",
        "--best-checkpoint", "best.pt", "--best-evaluation", "best",
    ) == 0  # fmt: skip


def _add_variant(workdir, name: str, variant: dict) -> None:
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["variants"][name] = variant
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))


def _small_report(workdir) -> None:
    """Fewer ascent steps and points: the figures' content matters here, not their polish."""
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["report"].update(ascent_steps=4, projection_images=24, attributions=2, channels=2)
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))


def _report(*extra: str) -> int:
    return run_stage(
        "report", "--prepared", "prepared.npz", "--checkpoints", "ckpt", "--best", "best.json",
        "--leaderboard", "board.csv", "--tradeoff", "tradeoff.png", "--train-reports", "live",
        "--corruptions", "corruptions.png",
        "--evaluations", "evaluate", "--preview", "preview.png", "--html", "out/index.html",
        "--figures", "out/report", *extra,
    )  # fmt: skip


@pytest.mark.slow  # runs the whole report stage, twice
@pytest.mark.parametrize("channels, size", [(1, 28), (3, 32)])
def test_report_stage_writes_every_section(workdir, capsys, channels, size):
    from convnets.data.prepared import PreparedData, save_augmented, save_prepared

    if channels == 3:  # the fixture's data are 1-channel 28x28: swap in colour 32x32 ones
        x, y = quadrant_images(40, size=size, channels=3)
        xt, yt = quadrant_images(10, size=size, channels=3, seed=1)
        data = PreparedData(x[:120], y[:120], x[120:], y[120:], xt, yt, QUADRANTS, "colour")
        save_prepared(workdir / "prepared.npz", data)
        save_augmented(workdir / "augmented.npz", data, data.x_train, data.y_train)
    Image.new("RGB", (8, 8)).save(workdir / "preview.png")
    _small_report(workdir)
    variants = ["tiny", "flat"]
    if channels == 1:  # a capsule network adds its own section
        _add_variant(workdir, "caps", {"model": "capsnet", "options": TINY_CAPSNET, "epochs": 1})
        variants.append("caps")
    _train_evaluate_compare(workdir, variants)
    assert _report() == 0
    page = (workdir / "out/index.html").read_text()
    for anchor in ("data", "filters", "shapes", "learned", "patches", "attribution"):
        assert f'<section id="{anchor}">' in page
    for anchor in ("features", "maximization", "results"):
        assert f'<section id="{anchor}">' in page
    figures = sorted(p.name for p in (workdir / "out/report").iterdir())
    assert "top_patches.png" in figures and "projection.png" in figures
    assert {"maximization.png", "maximization_fourier.png"} <= set(figures)
    assert "Sobel edges (control)" in page and "FAILS" in page  # the sanity table's control
    capsule_figures = {"capsule_lengths.png", "reconstructions.png", "perturbations.png"}
    assert capsule_figures <= set(figures) if channels == 1 else not capsule_figures & set(figures)
    assert ('<section id="capsules">' in page) == (channels == 1)
    sections = re.findall(r'<section id="(\w+)">', page)
    assert sections[-1] == ("capsules" if channels == 1 else "results")
    with Image.open(workdir / "out/report/samples.png") as image:
        assert image.size[1] > 200  # one row per class
    best = json.loads((workdir / "best.json").read_text())["variant"]
    assert f"../evaluate/{best}/confusion.png" in page and "../corruptions.png" in page
    # same inputs, same bytes: rerun and compare every figure and the page
    before = {p.name: p.read_bytes() for p in (workdir / "out/report").iterdir()}
    assert _report() == 0
    after = {p.name: p.read_bytes() for p in (workdir / "out/report").iterdir()}
    assert after == before and (workdir / "out/index.html").read_text() == page
    _refuses_a_sample_index_past_the_test_split(workdir, capsys)


def _refuses_a_sample_index_past_the_test_split(workdir, capsys) -> None:
    (workdir / "out/index.html").unlink()
    params = (workdir / "params.yaml").read_text().replace("sample_index: 0", "sample_index: 999")
    (workdir / "params.yaml").write_text(params)
    capsys.readouterr()
    assert _report() == 1
    assert "report.sample_index is 999" in capsys.readouterr().err
    assert not (workdir / "out/index.html").exists()
