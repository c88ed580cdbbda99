"""The corruption suite: seeded, each corruption the change it names, severity that hurts more."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from convnets.data.prepared import load_prepared
from convnets.data.tensors import to_nchw
from convnets.evaluation.corruption_suite import NAMES, SEVERITIES, strength
from convnets.evaluation.image_corruptions import corrupt
from convnets.evaluation.robustness import Suite, corruption_accuracy
from convnets.models.checkpoint import load_trained
from convnets.runtime import resolve_runtime
from tests.conftest import train_stage
from tests.fakes import quadrant_images


def garments(n: int = 16, size: int = 28) -> torch.Tensor:
    """Light, textured blobs on black, as Fashion-MNIST's pictures are: uint8 (N, 1, H, W)."""
    gen = torch.Generator().manual_seed(0)
    rows = torch.arange(size).view(size, 1).float()
    cols = torch.arange(size).view(1, size).float()
    out = []
    for _ in range(n):
        cy, cx = (torch.rand(2, generator=gen) * 6 + size / 2 - 3).tolist()
        ry, rx = (torch.rand(2, generator=gen) * 3 + 6).tolist()
        inside = ((rows - cy) / ry) ** 2 + ((cols - cx) / rx) ** 2 <= 1
        texture = torch.randint(120, 230, (size, size), generator=gen).float()
        out.append(torch.where(inside, texture, 0.0))
    return torch.stack(out).unsqueeze(1).to(torch.uint8)


def high_frequency(x: torch.Tensor) -> float:
    """Energy of neighbouring-pixel differences: what blur takes away and noise adds."""
    x = x.float()
    return float((x.diff(dim=-1) ** 2).mean() + (x.diff(dim=-2) ** 2).mean())


def centroid(x: torch.Tensor) -> torch.Tensor:
    """Each image's centre of brightness (row, col), (N, 2)."""
    x = x.float().sum(1)
    size = x.shape[-1]
    grid = torch.arange(size).float()
    mass = x.sum((1, 2))
    return torch.stack([(x.sum(2) * grid).sum(1) / mass, (x.sum(1) * grid).sum(1) / mass], 1)


@pytest.mark.parametrize("name", NAMES)
def test_each_corruption_is_seeded_and_grows_with_severity(name):
    x = garments()
    first = corrupt(x, name, 3, seed=7)
    assert first.dtype == torch.uint8 and first.shape == x.shape
    assert torch.equal(first, corrupt(x, name, 3, seed=7))
    distance = [
        float((corrupt(x, name, s, 7).float() - x.float()).abs().mean()) for s in SEVERITIES
    ]
    assert distance[0] > 0, "severity 1 changes the pictures"
    assert distance[-1] > distance[0], "severity 5 changes them more than severity 1"


@pytest.mark.parametrize("name", ["gaussian_blur", "motion_blur", "pixelate"])
def test_blur_lowers_high_frequency_energy(name):
    x = garments()
    energies = [high_frequency(corrupt(x, name, s, 0)) for s in SEVERITIES]
    assert energies[0] < high_frequency(x)
    assert all(b <= a * 1.05 for a, b in itertools.pairwise(energies))


@pytest.mark.parametrize("name", ["gaussian_noise", "shot_noise", "impulse_noise"])
def test_noise_raises_high_frequency_energy_and_leaves_the_mean_near(name):
    x = garments()
    noisy = corrupt(x, name, 3, 0)
    assert high_frequency(noisy) > 1.2 * high_frequency(x)
    assert abs(noisy.float().mean() - x.float().mean()) < 25
    assert not torch.equal(noisy, corrupt(x, name, 3, 1)), "another seed, other noise"


def test_gaussian_noise_has_the_stated_spread_where_nothing_clips():
    x = torch.full((8, 1, 28, 28), 128, dtype=torch.uint8)
    for severity in SEVERITIES:
        spread = float((corrupt(x, "gaussian_noise", severity, 0).float() - 128).std())
        assert spread == pytest.approx(strength("gaussian_noise", severity), rel=0.1)


def test_translate_moves_the_centroid_by_the_stated_pixels():
    x = torch.zeros(32, 1, 28, 28, dtype=torch.uint8)
    x[..., 11:17, 11:17] = 200  # a small square in the middle: nothing leaves the frame
    for severity in SEVERITIES:
        moved = centroid(corrupt(x, "translate", severity, 0)) - centroid(x)
        lengths = moved.norm(dim=1)
        assert lengths.numpy() == pytest.approx(strength("translate", severity), abs=0.05)
        assert moved[:, 0].std() > 0.3 and moved[:, 1].std() > 0.3, "in every direction"


def test_rotation_turns_a_bar_by_the_stated_angle_either_way():
    x = torch.zeros(16, 1, 28, 28, dtype=torch.uint8)
    x[..., 13:15, 4:24] = 255  # a horizontal bar
    for severity in (1, 3, 5):
        turned = corrupt(x, "rotate", severity, 0).float().sum(1)
        grid = torch.arange(28).float() - 13.5
        ys, xs = grid.view(28, 1), grid.view(1, 28)
        mass = turned.sum((1, 2))
        cov_xy = (turned * xs * ys).sum((1, 2)) / mass
        var_x, var_y = (turned * xs**2).sum((1, 2)) / mass, (turned * ys**2).sum((1, 2)) / mass
        angles = torch.rad2deg(0.5 * torch.atan2(2 * cov_xy, var_x - var_y)).abs()
        assert angles.numpy() == pytest.approx(strength("rotate", severity), abs=2)


def test_brightness_adds_and_contrast_scales_about_the_mean():
    x = torch.full((4, 1, 28, 28), 60, dtype=torch.uint8)
    x[..., 10:18, 10:18] = 120
    lit = corrupt(x, "brightness", 2, 0).float()
    assert torch.allclose(lit - x.float(), torch.full_like(lit, strength("brightness", 2)))
    faded = corrupt(x, "contrast", 4, 0).float()
    ratio = float(faded.std() / x.float().std())
    assert ratio == pytest.approx(strength("contrast", 4), abs=0.02)
    assert float(faded.mean()) == pytest.approx(float(x.float().mean()), abs=0.5)


def spread(x: torch.Tensor) -> torch.Tensor:
    """Each image's root-mean-square distance of brightness from its centroid, (N,)."""
    mass = x.float().sum(1)
    grid = torch.arange(x.shape[-1]).float()
    at = centroid(x)
    rows = (grid.view(1, -1, 1) - at[:, 0].view(-1, 1, 1)) ** 2
    cols = (grid.view(1, 1, -1) - at[:, 1].view(-1, 1, 1)) ** 2
    return ((mass * (rows + cols)).sum((1, 2)) / mass.sum((1, 2))).sqrt()


def test_scale_zooms_in_or_out_by_the_stated_factor():
    x = torch.zeros(32, 1, 28, 28, dtype=torch.uint8)
    x[..., 10:18, 10:18] = 200
    zoom = strength("scale", 3)
    ratio = spread(corrupt(x, "scale", 3, 0)) / spread(x)
    nearest = torch.minimum((ratio - (1 - zoom)).abs(), (ratio - (1 + zoom)).abs())
    assert (nearest < 0.03).all()
    assert (ratio > 1).any() and (ratio < 1).any(), "in and out"


def test_occlusion_covers_one_square_of_the_stated_side():
    x = garments()
    covered = corrupt(x, "occlusion", 5, 0)
    side = int(strength("occlusion", 5))
    for before, after in zip(x, covered, strict=True):
        changed = (before != after)[0].nonzero()
        if len(changed):  # a square of the picture's own grey level changes nothing
            height = changed[:, 0].max() - changed[:, 0].min() + 1
            width = changed[:, 1].max() - changed[:, 1].min() + 1
            assert height <= side and width <= side


def test_jpeg_loses_more_at_lower_quality():
    x = garments()
    errors = [float((corrupt(x, "jpeg", s, 0).float() - x.float()).abs().mean()) for s in (1, 5)]
    assert 0 < errors[0] < errors[1]


def test_severity_hurts_a_trained_model_more(workdir):
    """A tiny CNN trained on the toy task loses accuracy as the mean severity rises."""
    assert train_stage("tiny", "tiny.pt", "live") == 0
    data = load_prepared(workdir / "prepared.npz")
    model = load_trained(workdir / "tiny.pt", "train@tiny", data).build()
    images, labels = quadrant_images(50, seed=3)
    runtime = resolve_runtime("cpu", "fp32", 1)
    result = corruption_accuracy(
        model, to_nchw(images), labels, runtime, 256, Suite(NAMES, SEVERITIES, seed=0)
    )
    by_severity = [
        np.mean([row[str(s)] for row in result["accuracy"].values()]) for s in SEVERITIES
    ]
    assert result["clean"] > 0.9
    assert result["clean"] >= by_severity[0]
    assert all(b <= a + 0.01 for a, b in itertools.pairwise(by_severity))
    assert by_severity[0] - by_severity[-1] > 0.02, by_severity
    assert result["mean"] == pytest.approx(np.mean(by_severity))
    assert set(result["families"]) == {"noise", "blur", "digital", "geometric", "occlusion"}
