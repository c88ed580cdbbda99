"""Every registered model, on both input kinds: shape, finiteness, gradients, bad options."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from convnets.errors import ConvnetsError
from convnets.models.building import create_model
from convnets.models.registry import model_names, validate_options

INPUTS = [(1, 28), (3, 32)]


@pytest.mark.parametrize("name", model_names())
@pytest.mark.parametrize(("channels", "size"), INPUTS, ids=["1x28x28", "3x32x32"])
def test_model_shape_finite_and_every_parameter_learns(name, channels, size):
    torch.manual_seed(0)
    model = create_model(name, channels, 7, size)
    model.set_normalization([0.5] * channels, [0.25] * channels)
    x = torch.rand(4, channels, size, size)
    logits = model(x)
    assert logits.shape == (4, 7)
    assert torch.isfinite(logits).all()
    loss, scores = model.objective(x, torch.tensor([0, 1, 5, 6]), label_smoothing=0.1)
    assert scores.shape == logits.shape and loss.ndim == 0
    loss.backward()  # the training loss reaches every parameter (capsnet: its decoder too)
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert no_grad == []
    features = model.features((x - model.mean) / model.std)
    assert features.ndim == 2 and features.shape[0] == 4


@pytest.mark.parametrize("name", model_names())
def test_channels_last_and_bf16_match_fp32(name):
    torch.manual_seed(0)
    model = create_model(name, 1, 10, 28).eval()
    x = torch.rand(3, 1, 28, 28)
    reference = model(x)
    fast = model.to(memory_format=torch.channels_last)(
        x.contiguous(memory_format=torch.channels_last)
    )
    torch.testing.assert_close(fast, reference, atol=1e-4, rtol=1e-4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = model(x).float()
    assert (low.argmax(1) == reference.argmax(1)).float().mean() >= 2 / 3


def test_unknown_model_lists_known_ones():
    with pytest.raises(ConvnetsError, match=r"unknown model 'alexnet'; known models: capsnet, cnn"):
        create_model("alexnet", 1, 10, 28)


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("cnn", {"channels": [8, 8, 8, 8, 8], "pool": 2}, "shrink"),
        ("cnn", {"kernel_size": 11, "padding": 0, "channels": [4, 4, 4]}, "shrink"),
        ("vgg", {"widths": [4, 4, 4, 4, 4, 4]}, "shrink"),
        ("resnet", {"blocks_per_stage": 0}, "greater than or equal to 1"),
        ("mlp", {"hidden": []}, "at least 1"),
        ("capsnet", {"stem_channels": [8] * 6}, "shrink"),
        ("capsnet", {"routing_iterations": 0}, "greater than or equal to 1"),
        ("cnn", {"stride": "2"}, "valid integer"),
        ("vgg", {"depth": 3}, "options of 'vgg' are: widths"),
        ("vgg", {"widths": [4, 8], "convs_per_stage": [1]}, "lists 1 counts for 2 widths"),
        ("vgg", {"convs_per_stage": [1, 0, 2]}, r"convs_per_stage\.1: Input should be greater"),
    ],
)
def test_options_that_do_not_fit_are_refused(name, options, message):
    with pytest.raises(ConvnetsError, match=message):
        create_model(name, 1, 10, 28, options)


def test_option_error_names_the_params_key():
    with pytest.raises(ConvnetsError, match=r"variants.x.options.dropout"):
        validate_options("mlp", {"dropout": 1.5}, "variants.x.options")


SMALL_RESNET_STEP = """
import torch
from convnets.models.building import create_model
torch.manual_seed(0)
torch.set_num_threads(1)
model = create_model("resnet", 1, 10, 28, {"widths": [4, 8], "blocks_per_stage": 1})
model = model.to(memory_format=torch.channels_last)
x = torch.rand(128, 1, 28, 28).contiguous(memory_format=torch.channels_last)
for _ in range(3):
    loss, _ = model.objective(x, torch.randint(0, 10, (128,)), 0.1)
    loss.backward()
"""


@pytest.mark.slow  # spawns a process
def test_a_narrow_resnet_trains_channels_last_without_crashing():
    """Its shortcut once ran a strided 1x1 conv whose backward killed the process (heap
    corruption) on an AVX2-only CPU; a child process, so a crash fails this test alone."""
    result = subprocess.run(
        [sys.executable, "-c", SMALL_RESNET_STEP], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-500:]


@pytest.mark.parametrize(("convs", "expected"), [(2, [2, 2, 2]), ([1, 2, 3], [1, 2, 3])])
def test_vgg_builds_the_convs_each_stage_asks_for(convs, expected):
    model = create_model("vgg", 1, 10, 28, {"widths": [4, 8, 16], "convs_per_stage": convs})
    widths = [m.out_channels for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert widths == [w for w, n in zip([4, 8, 16], expected, strict=True) for _ in range(n)]
