"""Capsnet: routing, squash, margin loss by hand, reconstruction, training, ONNX and figures."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from convnets import predict
from convnets.errors import ConvnetsError
from convnets.evaluation.inference import predict_logits
from convnets.evaluation.metrics import confident_mistakes, probabilities
from convnets.figures.capsules import (
    capsule_lengths_figure,
    perturbation_figure,
    reconstruction_figure,
)
from convnets.models.building import create_model
from convnets.models.capsnet import ClassCapsules, margin_loss, squash
from convnets.onnx import convert, parity, quantize, sessions
from convnets.onnx.metadata import ModelDescription
from convnets.runtime import resolve_runtime
from convnets.training.distributed import World
from convnets.training.loop import fit
from tests.conftest import QUADRANTS
from tests.fakes import quadrant_images
from tests.test_training import settings

# Small enough to train in a second on the 4-class quadrant task.
TINY = {
    "stem_channels": [8, 8],
    "primary_types": 2,
    "primary_dim": 4,
    "class_dim": 6,
    "decoder_hidden": [16],
}


def tiny(decoder: bool = True, seed: int = 0):
    torch.manual_seed(seed)
    return create_model("capsnet", 1, 4, 28, {**TINY, "decoder": decoder})


def nchw(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()


@pytest.mark.parametrize("iterations", [1, 3])
def test_routing_gives_one_capsule_per_class_shorter_than_one(iterations):
    torch.manual_seed(0)
    routing = ClassCapsules(inputs=12, in_dim=4, classes=3, dim=5, iterations=iterations)
    v = routing(squash(torch.randn(2, 12, 4) * 10))
    assert v.shape == (2, 3, 5)
    lengths = v.norm(dim=-1)
    assert (lengths >= 0).all() and (lengths < 1).all()


def test_squash_keeps_direction_and_stays_below_one_even_for_big_vectors():
    s = torch.tensor([[3.0, 4.0], [0.0, 0.0], [600.0, 800.0], [6e14, 8e14]], requires_grad=True)
    v = squash(s)
    lengths = v.norm(dim=-1)
    assert lengths[0].item() == pytest.approx(25 / 26)  # |s|^2 / (1 + |s|^2) for |s| = 5
    assert lengths[1].item() == 0.0
    assert lengths[2].item() < 1.0  # |s| = 1,000: 1 - 1e-6 is still below 1 in float32
    assert torch.isfinite(v).all() and lengths[3].item() <= 1.0
    assert torch.allclose(v[0] / lengths[0], torch.tensor([0.6, 0.8]))
    v.sum().backward()
    assert torch.isfinite(s.grad).all()


def test_margin_loss_matches_hand_computed_values():
    lengths = torch.tensor([[0.95, 0.2, 0.05], [0.5, 0.3, 0.8]])
    labels = torch.tensor([0, 2])
    # image 0: present 0 is past 0.9 (0); absent 1: 0.5 * 0.1^2; absent 2 is under 0.1 (0)
    # image 1: present 2: (0.9 - 0.8)^2; absent 0: 0.5 * 0.4^2; absent 1: 0.5 * 0.2^2
    first, second = 0.5 * 0.1**2, 0.1**2 + 0.5 * 0.4**2 + 0.5 * 0.2**2
    assert margin_loss(lengths, labels).item() == pytest.approx((first + second) / 2)


def test_reconstruction_loss_only_with_the_decoder_and_from_the_true_capsule():
    x = torch.rand(3, 1, 28, 28)
    labels = torch.tensor([0, 3, 1])
    with_decoder, without = tiny(decoder=True), tiny(decoder=False)
    assert without.decoder is None and with_decoder.decoder is not None
    loss, scores = without.objective(x, labels, label_smoothing=0.1)
    assert loss.item() == pytest.approx(without.score_loss(scores, labels).item())
    loss, scores = with_decoder.objective(x, labels, label_smoothing=0.1)
    capsules = with_decoder.capsules(x)
    rebuilt = with_decoder.decode(capsules, labels)
    error = (rebuilt - x).pow(2).sum(dim=(1, 2, 3)).mean()
    margin = with_decoder.score_loss(scores, labels)
    assert error > 0
    assert loss.item() == pytest.approx((margin + error).item(), rel=1e-5)
    # the capsules (and all below them) feel the paper's 0.0005 x error; the decoder all of it
    routing, decoder = with_decoder.features[1].weight, with_decoder.decoder[-2].weight
    got = torch.autograd.grad(loss - margin, (routing, decoder), retain_graph=True)
    want = torch.autograd.grad(error, (routing, decoder), retain_graph=True)
    torch.testing.assert_close(got[0], 0.0005 * want[0])
    torch.testing.assert_close(got[1], want[1])
    capsules = capsules.detach()
    capsules[torch.arange(3), (labels + 1) % 4] = 5.0  # another class's capsule must not matter
    assert torch.equal(with_decoder.decode(capsules, labels).detach(), rebuilt.detach())


@pytest.fixture(scope="module")
def trained():
    """A tiny capsnet trained for 3 epochs on the quadrant task, and its fit result."""
    model = tiny()
    x, y = quadrant_images(24)
    xv, yv = quadrant_images(8, seed=1)
    result = fit(
        model,
        (nchw(x), torch.from_numpy(y)),
        (nchw(xv), torch.from_numpy(yv)),
        settings(epochs=3, batch_augment=None, optimizer="adamw", lr=0.01),
        resolve_runtime("cpu", "fp32", 1),
        World(),
        seed=0,
    )
    model.load_state_dict(result.best_state)
    return model.eval(), result


def test_a_tiny_training_run_lowers_the_loss(trained):
    _, result = trained
    losses = [stats.train_loss for stats in result.history]
    assert losses[-1] < losses[0]
    assert result.best_val_accuracy > 0.5  # 4 classes: chance is 0.25
    assert 0 <= result.best_val_loss < 1  # margin loss, not cross-entropy


def test_onnx_export_matches_pytorch_and_predict_shows_lengths(trained, tmp_path):
    model, _ = trained
    shape = {"layout": "NHWC", "dtype": "uint8", "shape": [28, 28, 1]}
    ood = {"score": "max_probability", "threshold": 0.0}
    description = ModelDescription(classes=QUADRANTS, input=shape, scores=model.score_kind, ood=ood)
    fp32 = convert.export_onnx(model, description)
    convert.check(fp32, "fp32")
    images, _ = quadrant_images(5, seed=2)
    expected = predict_logits(model, nchw(images), resolve_runtime("cpu", "fp32", 1)).numpy()
    session = sessions.onnx_session(fp32, 1)
    report = parity.parity(expected, session, images, atol=1e-4)
    assert report["argmax_agreement"] == 1.0
    int8 = quantize.quantize_int8(fp32, images)
    int8_scores = sessions.onnx_logits(sessions.onnx_session(int8, 1), images)
    assert int8_scores.shape == (20, 4) and np.isfinite(int8_scores).all()
    path = tmp_path / "capsnet.onnx"
    path.write_bytes(fp32)
    classifier = predict.load_classifier(path, threads=1)
    assert classifier.scores == "capsule_lengths"
    shown = classifier.probabilities(images)
    np.testing.assert_allclose(shown, expected, atol=1e-4)  # lengths as they are, no softmax
    assert (shown >= 0).all() and (shown < 1).all()


def test_mistakes_use_lengths_as_probabilities():
    lengths = torch.tensor([[0.2, 0.7], [0.95, 0.9]])
    labels = torch.tensor([0, 1])
    assert torch.equal(probabilities(lengths, "capsule_lengths"), lengths)
    mistakes = confident_mistakes(lengths, labels, count=2, score_kind="capsule_lengths")
    assert [m["index"] for m in mistakes] == [1, 0]
    assert mistakes[0]["probability"] == pytest.approx(0.95)


def png_size(path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size  # (width, height)


def test_capsule_figures_draw_one_panel_per_image_and_per_perturbation(trained, tmp_path):
    model, _ = trained
    images, labels = quadrant_images(1, seed=3)  # one image per class
    batch = nchw(images)
    three, four = tmp_path / "three.png", tmp_path / "four.png"
    assert capsule_lengths_figure(model, batch[:3], labels[:3], QUADRANTS, three) == 6
    assert capsule_lengths_figure(model, batch, labels, QUADRANTS, four) == 8
    assert png_size(four)[1] > png_size(three)[1]  # one row per image
    assert reconstruction_figure(model, batch, QUADRANTS, tmp_path / "rebuilt.png") == 8
    grid = tmp_path / "grid.png"
    assert perturbation_figure(model, batch[0], QUADRANTS, grid, steps=5) == 6 * 5  # class_dim
    first = grid.read_bytes()
    perturbation_figure(model, batch[0], QUADRANTS, grid, steps=5)
    assert grid.read_bytes() == first  # deterministic


def test_reconstruction_figures_need_the_decoder(tmp_path):
    model = tiny(decoder=False)
    images = nchw(quadrant_images(1)[0])
    with pytest.raises(ConvnetsError, match="no decoder"):
        reconstruction_figure(model, images, QUADRANTS, tmp_path / "x.png")
    with pytest.raises(ConvnetsError, match="no decoder"):
        perturbation_figure(model, images[0], QUADRANTS, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
