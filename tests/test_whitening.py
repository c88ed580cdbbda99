"""The patch-whitening stem: decorrelated first-layer outputs, both signs, frozen in training."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from convnets.config import VariantConfig
from convnets.data.augmentation import AugmentSettings
from convnets.data.prepared import PreparedData
from convnets.models.whitening import EPSILON, PatchWhitening, whitening_filters
from convnets.runtime import resolve_runtime
from convnets.training.distributed import World
from convnets.training.loop import TrainSettings, fit, make_optimizer
from convnets.training.trainer import build_model
from tests.fakes import quadrant_images


def smooth_images(n: int, channels: int = 1, size: int = 16, seed: int = 0) -> torch.Tensor:
    """Blurred noise: neighbouring pixels correlate strongly, as in photos and Fashion-MNIST."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(n, channels, size + 4, size + 4, generator=generator)
    blur = torch.ones(channels, 1, 5, 5) / 25
    return F.conv2d(noise, blur, groups=channels) * 5


@pytest.mark.parametrize("channels", [1, 3])
def test_whitening_filters_give_uncorrelated_unit_variance_outputs(channels):
    images = smooth_images(400, channels)
    filters = whitening_filters(images, 3)
    assert filters.shape == (channels * 9, channels, 3, 3)
    outputs = F.conv2d(images, filters).transpose(0, 1).reshape(len(filters), -1)
    cov = torch.cov(outputs)
    off_diagonal = cov - torch.diag(torch.diag(cov))
    assert off_diagonal.abs().max() < 0.02  # the raw patches correlate at about 0.9
    # each component comes out with variance var / (var + eps): about 1 for the strong ones
    patches = F.unfold(images.double(), 3).transpose(1, 2).reshape(-1, channels * 9)
    component = torch.linalg.eigvalsh(torch.cov(patches.T)).flip(0).float()
    expected = component / (component + EPSILON)
    torch.testing.assert_close(torch.diag(cov), expected, rtol=0.02, atol=1e-3)
    assert expected[0] > 0.8  # the strongest component is scaled to about unit variance


def test_grey_pictures_as_rgb_get_zero_filters_for_the_directions_they_never_vary_in():
    """R = G = B: 18 of the 27 colour directions are always 0; their filters must be exactly 0,
    so bf16 and fp32 agree on those channels (0, not rounding noise over sqrt(eps))."""
    grey = smooth_images(300, 1)
    filters = whitening_filters(grey.repeat(1, 3, 1, 1), 3)
    norms = filters.flatten(1).norm(dim=1)
    assert (norms == 0).sum() == 18 and (norms[:9] > 0).all()
    rgb = grey.repeat(1, 3, 1, 1)[:8]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = F.conv2d(rgb, filters)
    assert low[:, norms == 0].abs().max() == 0
    assert (whitening_filters(smooth_images(300, 3), 3).flatten(1).norm(dim=1) > 0).all()


def test_a_narrow_stem_keeps_the_strongest_filters_and_both_signs():
    images = smooth_images(200, channels=3)
    layer = PatchWhitening(3, 32)
    layer.fit(images)
    filters = whitening_filters(images, 3)  # 27 of them: 54 with both signs, only 32 fit
    torch.testing.assert_close(layer.weight[:27], filters)
    torch.testing.assert_close(layer.weight[27:], -filters[:5])


def tiny_data() -> PreparedData:
    x, y = quadrant_images(12, size=16)
    classes = ("top-left", "top-right", "bottom-left", "bottom-right")
    return PreparedData(x, y, x[:16], y[:16], x[:16], y[:16], classes, "fake")


def test_the_vgg_stem_is_fitted_from_the_training_split_and_never_trains():
    data = tiny_data()
    variant = VariantConfig(
        model="vgg",
        options={"widths": [24, 16], "convs_per_stage": 1, "whiten_stem": True},
    )
    torch.manual_seed(0)
    model = build_model(variant, data)
    stem = model.features[0][0]
    assert isinstance(stem, PatchWhitening) and not stem.weight.requires_grad
    x = torch.from_numpy(data.x_train).permute(0, 3, 1, 2).float() / 255
    expected = whitening_filters((x - model.mean) / model.std, 3)
    torch.testing.assert_close(stem.weight[:9], expected)
    torch.testing.assert_close(stem.weight[9:18], -expected)
    fitted = stem.weight.clone()
    other = model.features[0][4].weight.clone()  # the second stage's conv
    settings = TrainSettings(
        epochs=2, batch_size=8, lr=0.05, optimizer="sgd", momentum=0.9, weight_decay=5e-4,
        schedule="onecycle", warmup_fraction=0.2, label_smoothing=0.0, patience=0,
        batch_augment=AugmentSettings(1, True, 0, 0),
    )  # fmt: skip
    train = torch.from_numpy(data.x_train).permute(0, 3, 1, 2), torch.from_numpy(data.y_train)
    fit(model, train, train, settings, resolve_runtime("cpu", "fp32", 1), World(), seed=0)
    assert torch.equal(stem.weight, fitted)  # momentum and weight decay left it alone too
    assert not torch.equal(model.features[0][4].weight, other)


def test_biases_and_norms_step_at_their_own_rate_and_frozen_weights_not_at_all():
    torch.manual_seed(0)
    model = build_model(
        VariantConfig(model="vgg", options={"widths": [24, 16], "whiten_stem": True}),
        tiny_data(),
    )
    settings = TrainSettings(
        epochs=1, batch_size=8, lr=0.1, optimizer="sgd", momentum=0.9, weight_decay=5e-4,
        schedule="onecycle", warmup_fraction=0.2, label_smoothing=0.0, patience=0,
        batch_augment=None, bias_lr_scale=8.0,
    )  # fmt: skip
    weights, vectors = make_optimizer(model, settings).param_groups
    assert weights["lr"] == pytest.approx(0.1) and weights["weight_decay"] == 0.0005
    assert vectors["lr"] == pytest.approx(0.8) and vectors["weight_decay"] == 0.0
    grouped = {id(p) for group in (weights, vectors) for p in group["params"]}
    assert id(model.features[0][0].weight) not in grouped
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert grouped == trainable
    assert all(p.ndim <= 1 for p in vectors["params"]) and all(
        p.ndim > 1 for p in weights["params"]
    )
    bn_shifts_and_scales, head_bias = 2 * (24 + 24 + 16 + 16), 4
    assert sum(p.numel() for p in vectors["params"]) == bn_shifts_and_scales + head_bias
