"""Metrics against hand-computed values; best-by-validation; the evaluate stage's refusals."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from convnets.data.prepared import load_prepared, save_prepared
from convnets.evaluation.inference import Views, predict_logits, tta_views
from convnets.evaluation.leaderboard import choose_best, leaderboard, to_markdown
from convnets.evaluation.metrics import classification_metrics, confident_mistakes
from convnets.runtime import resolve_runtime
from tests.conftest import QUADRANTS, run_stage, train_stage

# 5 examples, 3 classes. Predictions (argmax): 0, 1, 1, 2, 0; truth: 0, 1, 2, 2, 1.
LOGITS = torch.tensor(
    [
        [2.0, 0.0, 0.0],
        [0.0, 3.0, 0.0],
        [0.0, 1.0, 0.0],
        [0.0, 0.0, 1.0],
        [4.0, 0.0, 0.0],
    ]
)
LABELS = torch.tensor([0, 1, 2, 2, 1])


def test_metrics_match_hand_computed_values():
    m = classification_metrics(LOGITS, LABELS, ("a", "b", "c"))
    assert m["accuracy"] == pytest.approx(3 / 5)
    # class a: predicted {0, 4}, true {0}: precision 1/2, recall 1/1, F1 2/3
    # class b: predicted {1, 2}, true {1, 4}: precision 1/2, recall 1/2, F1 1/2
    # class c: predicted {3}, true {2, 3}: precision 1/1, recall 1/2, F1 2/3
    assert m["per_class"]["a"] == pytest.approx(
        {"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1}
    )
    assert m["per_class"]["b"]["recall"] == pytest.approx(0.5)
    assert m["per_class"]["c"]["precision"] == pytest.approx(1.0)
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1 / 2 + 2 / 3) / 3)
    by_hand = (
        -sum(LOGITS[i, LABELS[i]].item() - math.log(LOGITS[i].exp().sum().item()) for i in range(5))
        / 5
    )
    assert m["loss"] == pytest.approx(by_hand, rel=1e-6)


def test_confident_mistakes_are_the_wrong_ones_most_confident_first():
    mistakes = confident_mistakes(LOGITS, LABELS, count=5)
    assert [m["index"] for m in mistakes] == [4, 2]  # 4 is wrong at p~0.96, 2 at p~0.58
    assert mistakes[0]["true"] == 1 and mistakes[0]["predicted"] == 0
    assert mistakes[0]["probability"] == pytest.approx(LOGITS[4].softmax(0)[0].item())
    assert len(confident_mistakes(LOGITS, LABELS, count=1)) == 1


def test_flip_tta_averages_with_the_mirror():
    class LeftHalf(torch.nn.Module):
        def forward(self, x):  # (N, 1, H, W) -> 2 logits: mass of the left and right halves
            half = x.shape[-1] // 2
            return torch.stack([x[..., :half].sum((1, 2, 3)), x[..., half:].sum((1, 2, 3))], 1)

    images = torch.zeros(1, 1, 2, 4, dtype=torch.uint8)
    images[..., 0] = 255
    runtime = resolve_runtime("cpu", "fp32", 1)
    plain = predict_logits(LeftHalf(), images, runtime)
    tta = predict_logits(LeftHalf(), images, runtime, views=Views(flip=True))
    assert plain.tolist() == [[2.0, 0.0]]
    assert tta.tolist() == [[1.0, 1.0]]


class Pixels(torch.nn.Module):
    def forward(self, x):  # (N, 1, H, W) -> one logit per pixel: where the light falls
        return x.flatten(1)


def test_shift_tta_averages_one_pixel_shifts_zero_filled_and_mirrored():
    images = torch.zeros(1, 1, 3, 3, dtype=torch.uint8)
    images[0, 0, 0, 0] = 255  # the top-left pixel: shifts up or left push it out of the image
    runtime = resolve_runtime("cpu", "fp32", 1)
    shifts = predict_logits(Pixels(), images, runtime, views=Views(shifts=True)).view(3, 3)
    # itself, shifted down and shifted right; nothing wraps round to the far edge
    assert (shifts * 5).tolist() == [[1, 1, 0], [1, 0, 0], [0, 0, 0]]
    both = predict_logits(Pixels(), images, runtime, views=Views(flip=True, shifts=True))
    assert (both.view(3, 3) * 10).tolist() == [[1, 2, 1], [1, 0, 1], [0, 0, 0]]
    assert Views(flip=True, shifts=True).count == 10


def evaluation(val, test, params=1000, model="cnn"):
    return {
        "model": model,
        "val": {"accuracy": val},
        "test": {"accuracy": test, "macro_f1": test, "loss": 1 - test},
        "parameters": params,
        "flops_per_image": 2e6,
        "train_seconds": 10.0,
        "corruptions": {"mean": test - 0.2},
    }


def test_best_is_chosen_by_validation_even_when_test_disagrees():
    table = leaderboard(
        {
            "mlp": evaluation(val=0.90, test=0.95, model="mlp"),
            "cnn": evaluation(val=0.93, test=0.91),
            "vgg": evaluation(val=0.92, test=0.94),
        }
    )
    assert table["variant"].tolist() == ["cnn", "vgg", "mlp"]
    best = choose_best(table)
    assert best["variant"] == "cnn" and best["test_accuracy"] == 0.91
    assert "validation" in best["reason"] and "next: vgg" in best["reason"]
    markdown = to_markdown(table)
    assert markdown.count("\n") == 2 + 3 and "93.00%" in markdown


def test_validation_ties_go_to_the_smaller_model():
    table = leaderboard(
        {"big": evaluation(0.9, 0.9, params=10_000), "small": evaluation(0.9, 0.8, params=10)}
    )
    assert choose_best(table)["variant"] == "small"
    assert json.dumps(choose_best(table))  # plain JSON types only
    assert np.isfinite(table["test_loss"]).all()


def train_tiny(variant: str = "tiny") -> None:
    assert train_stage(variant, f"models/checkpoints/{variant}.pt", f"reports/train/{variant}") == 0


def evaluate(variant: str = "tiny", prepared: str = "prepared.npz") -> int:
    return run_stage(
        "evaluate",
        "--variant",
        variant,
        "--checkpoint",
        f"models/checkpoints/{variant}.pt",
        "--prepared",
        prepared,
        "--out",
        f"reports/evaluate/{variant}",
    )


def corruptions(variant: str = "tiny") -> int:
    return run_stage(
        "corruptions",
        "--variant",
        variant,
        "--checkpoint",
        f"models/checkpoints/{variant}.pt",
        "--prepared",
        "prepared.npz",
        "--out",
        f"reports/corruptions/{variant}.json",
    )


def compare() -> int:
    return run_stage(
        "compare",
        "--evaluations",
        "reports/evaluate",
        "--timings",
        "reports/train",
        "--corruptions",
        "reports/corruptions",
        "--corruption-plot",
        "reports/corruptions.png",
        "--checkpoints",
        "models/checkpoints",
        "--table",
        "reports/leaderboard",
        "--plot",
        "reports/tradeoff.png",
        "--best",
        "models/best.json",
        "--summary",
        "reports/summary.json",
        "--curves",
        "reports/curves.csv",
        "--confusion",
        "reports/confusion.json",
        "--best-checkpoint",
        "models/best.pt",
        "--best-evaluation",
        "reports/best",
    )


def test_evaluate_then_compare_end_to_end(workdir):
    for variant in ("tiny", "flat"):
        train_tiny(variant)
        assert evaluate(variant) == 0
        assert corruptions(variant) == 0
    out = workdir / "reports/evaluate/tiny"
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.25 < metrics["test"]["accuracy"] <= 1 and metrics["flops_per_image"] > 0
    assert set(json.loads((out / "per_class.json").read_text())) == set(QUADRANTS)
    confusion = json.loads((out / "plots/sklearn/confusion_matrix.json").read_text())
    assert len(confusion) == 40 and set(confusion[0]) == {"actual", "predicted"}
    assert (out / "confusion.png").stat().st_size > 0 and (out / "mistakes.png").exists()
    assert compare() == 0
    best = json.loads((workdir / "models/best.json").read_text())
    assert best["variant"] in {"tiny", "flat"}
    csv = (workdir / "reports/leaderboard.csv").read_text().splitlines()
    assert csv[0].startswith("variant,model,val_accuracy") and len(csv) == 3
    assert csv[1].split(",")[0] == best["variant"]
    summary = json.loads((workdir / "reports/summary.json").read_text())
    assert summary["best"] == best["variant"] and summary["val"]["tiny"] == pytest.approx(
        json.loads((out / "metrics.json").read_text())["val"]["accuracy"]
    )
    assert set(summary) == {"best", "best_val", "best_test", "val", "test", "f1", "corrupt"}
    robust = json.loads((workdir / "reports/corruptions/tiny.json").read_text())
    assert summary["corrupt"]["tiny"] == robust["mean"] and 0 < robust["mean"] < 1
    assert "corruption_accuracy" in csv[0] and (workdir / "reports/corruptions.png").exists()
    curves = (workdir / "reports/curves.csv").read_text().splitlines()
    assert curves[0] == "variant,epoch,val_accuracy,val_loss"
    assert len(curves) == 1 + 3 + 2  # tiny trains 3 epochs, flat 2
    chosen = workdir / f"reports/evaluate/{best['variant']}"
    copies = {"reports/confusion.json": chosen / "plots/sklearn/confusion_matrix.json"}
    copies["models/best.pt"] = workdir / f"models/checkpoints/{best['variant']}.pt"
    for name in ("metrics.json", "per_class.json", "probabilities.npz"):
        copies[f"reports/best/{name}"] = chosen / name
    robust_file = workdir / "reports/corruptions" / f"{best['variant']}.json"
    copies["reports/best/corruptions.json"] = robust_file
    for copy, source in copies.items():  # byte for byte: DVC sees no change when nothing did
        assert (workdir / copy).read_bytes() == source.read_bytes(), copy


def test_missing_checkpoint_names_the_training_stage(workdir, capsys):
    assert evaluate("tiny") == 1
    assert "dvc repro train@tiny" in capsys.readouterr().err


def test_variant_without_evaluation_is_named(workdir, capsys):
    train_tiny("tiny")
    assert evaluate("tiny") == 0 and corruptions("tiny") == 0
    assert compare() == 1
    assert "dvc repro evaluate@flat" in capsys.readouterr().err
    assert not (workdir / "models/best.json").exists()


def test_variant_without_corruption_results_is_named(workdir, capsys):
    train_tiny("flat")  # the first variant compare reads (params.yaml's keys are sorted)
    assert evaluate("flat") == 0
    assert compare() == 1
    assert "dvc repro corruptions@flat" in capsys.readouterr().err


def test_empty_test_set_is_refused(workdir, capsys):
    train_tiny("tiny")
    data = load_prepared(workdir / "prepared.npz")
    empty = replace(data, x_test=data.x_test[:0], y_test=data.y_test[:0])
    save_prepared(workdir / "empty.npz", empty)
    assert evaluate("tiny", "empty.npz") == 1
    assert "empty test or validation split" in capsys.readouterr().err
    assert not (workdir / "reports/evaluate/tiny/metrics.json").exists()


@pytest.mark.parametrize(
    ("flip", "batch_augment", "override", "copies", "augmented", "mirrored"),
    [
        (True, True, None, 0, True, True),
        (True, True, False, 0, False, False),  # the MLP: its variant turns batch augmentation off
        (True, False, None, 1, True, True),  # static augmented copies with flips
        (False, True, None, 1, True, False),  # digits: shifts but no flips
        (True, False, True, 0, True, True),
        (True, False, None, 0, False, False),  # no augmentation at all
    ],
)
def test_tta_views_only_those_the_model_was_trained_on(
    flip, batch_augment, override, copies, augmented, mirrored
):
    for padding in (0, 1, 2):
        params = {
            "augment": {"flip": flip, "copies": copies, "crop_padding": padding},
            "train": {"batch_augment": batch_augment},
            "variants": {"v": {"batch_augment": override}},
        }
        shifted = augmented and padding >= 1
        assert tta_views("shifts", params, "v") == Views(flip=mirrored, shifts=shifted)
        assert tta_views("flip", params, "v") == Views(flip=mirrored)
        assert tta_views("none", params, "v") == Views()


def test_a_capsule_networks_margin_loss_is_left_out_of_the_loss_column():
    capsules = evaluation(0.9, 0.9) | {"model": "capsnet", "scores": "capsule_lengths"}
    table = leaderboard({"cnn": evaluation(0.8, 0.8), "caps": capsules})
    losses = dict(zip(table["variant"], table["test_loss"], strict=True))
    assert losses["cnn"] == pytest.approx(0.2) and np.isnan(losses["caps"])
    caps_row = next(line for line in to_markdown(table).splitlines() if "| caps" in line)
    assert "nan" not in caps_row
