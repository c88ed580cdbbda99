"""The real `dvc repro` on a small subset of the real Fashion-MNIST, in a copy of the repo."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.browser import REPORT_SECTIONS, open_in_chromium
from tests.documented import exp_show
from tests.pipeline import (
    assert_every_stage_ran_and_wrote_its_outputs,
    clone_run,
    committed_run,
    dvc,
    dvc_command,
    stages_ran,
    tool_env,
)
from tests.repos import TINY_VARIANTS

MIN_BEST_TEST_ACCURACY = 0.3

pytestmark = pytest.mark.slow


@pytest.fixture
def repo(fashion_repo):
    """The tiny Fashion-MNIST run (tests/repos.py), shared with the explorer's browser tests."""
    return fashion_repo


def test_repro_writes_every_output(repo):
    assert_every_stage_ran_and_wrote_its_outputs(repo)  # what dvc.yaml declares, generically
    summary = json.loads((repo / "reports/prepare/summary.json").read_text())
    assert summary["sizes"] == {"train": 270, "val": 30, "test": 300}
    assert (repo / "data/prepared/fashion-mnist.npz").stat().st_size > 0
    assert len(list((repo / "data/raw/fashion-mnist").iterdir())) == 5
    assert (repo / "reports/augment/preview.png").stat().st_size > 0
    for variant in TINY_VARIANTS:
        assert (repo / f"models/checkpoints/{variant}.pt").stat().st_size > 0
        metrics = json.loads((repo / f"reports/train/{variant}/metrics.json").read_text())
        assert 0 <= metrics["best"]["val_accuracy"] <= 1
        evaluation = json.loads((repo / f"reports/evaluate/{variant}/metrics.json").read_text())
        assert 0 <= evaluation["test"]["accuracy"] <= 1
    timing = json.loads((repo / "reports/train/resnet/timing.json").read_text())
    assert [epoch["image_size"] for epoch in timing["epochs"]] == [20, 28]
    best = json.loads((repo / "models/best.json").read_text())
    assert best["variant"] in TINY_VARIANTS
    # One epoch (34 steps) on 540 images: 0.42 test accuracy measured here (the MLP); 0.3 is
    # three times chance (10 classes) with room for another CPU's arithmetic.
    assert best["test_accuracy"] >= MIN_BEST_TEST_ACCURACY
    export = json.loads((repo / "reports/export/metrics.json").read_text())
    assert export["variant"] == best["variant"] and export["parity"]["argmax_agreement"] == 1
    before, after = export["calibration"]["test"]["before"], export["calibration"]["test"]["after"]
    assert all(0 <= run["ece"] <= 1 for run in (before, after))
    sets = export["ood"]["sets"]
    assert set(sets) == {"digits", "photo_crops", "uniform_noise", "gaussian_noise", "blank"}
    assert all(0 <= s["auroc"][export["ood"]["score"]] <= 1 for s in sets.values())
    assert "Calibrated probabilities" in (repo / "reports/index.html").read_text()
    benchmark = json.loads((repo / "reports/benchmark.json").read_text())
    assert set(benchmark["engines"]) >= {"pytorch_eager", "onnxruntime_fp32", "onnxruntime_int8"}
    assert (repo / "reports/leaderboard.md").read_text().count("\n") == 2 + len(TINY_VARIANTS)


SUMMARY_FILES = {"reports/summary/variants.json", "reports/summary/shipped.json"}
# best, best_val, best_test; val, test, f1 and corrupt per variant; int8_test, ort_speedup
SUMMARY_KEYS = 3 + 4 * len(TINY_VARIANTS) + 2  # columns of metrics in `dvc exp show`


def _flat_keys(data: dict, prefix: str = "") -> list[str]:
    keys = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        keys += _flat_keys(value, name + ".") if isinstance(value, dict) else [name]
    return keys


def test_exp_show_holds_only_the_summary_metrics(repo):
    """Per-stage details stay outputs; `dvc exp show` reads the two summary files alone."""
    workspace = json.loads(dvc(repo, "exp", "show", "--json").stdout)[0]["data"]["metrics"]
    assert set(workspace) == SUMMARY_FILES
    keys = [k for path in SUMMARY_FILES for k in _flat_keys(workspace[path]["data"])]
    assert len(keys) == SUMMARY_KEYS
    summary = workspace["reports/summary/variants.json"]["data"]
    evaluation = json.loads((repo / "reports/evaluate/cnn/metrics.json").read_text())
    assert summary["val"]["cnn"] == evaluation["val"]["accuracy"]
    assert summary["best"] == json.loads((repo / "models/best.json").read_text())["variant"]


def test_plots_show_overlays_the_variants(repo):
    plots = json.loads(dvc(repo, "plots", "show", "--json").stdout)["data"]
    assert list(plots) == [
        "Validation accuracy per epoch",
        "Validation loss per epoch",
        "Test confusion matrix of the chosen variant",
        "Test accuracy against cost",
    ]
    for title in ("Validation accuracy per epoch", "Test accuracy against cost"):
        values = plots[title][0]["content"]["data"]["values"]
        assert {row["variant"] for row in values} == set(TINY_VARIANTS)  # one series each
    confusion = plots["Test confusion matrix of the chosen variant"][0]["content"]["data"]
    assert len(confusion["values"]) == 300  # every test image of the chosen variant


def test_predict_classifies_test_images_with_the_exported_model(repo, tmp_path, capsys):
    """Every test image as a PNG through `convnets predict`: its labels are the torch model's,
    and their accuracy against the truth is the one export measured for the ONNX model."""
    import numpy as np
    from PIL import Image

    from convnets.data.tensors import to_nchw
    from convnets.evaluation.inference import predict_logits
    from convnets.models.checkpoint import load_checkpoint
    from convnets.predict import main as predict_main
    from convnets.runtime import resolve_runtime

    with np.load(repo / "data/prepared/fashion-mnist.npz", allow_pickle=False) as data:
        images, labels, classes = data["x_test"], data["y_test"], list(data["classes"])
    for i, image in enumerate(images):
        Image.fromarray(image[..., 0]).save(tmp_path / f"{i:03d}.png")
    assert predict_main([str(tmp_path), "--model", str(repo / "models/best.onnx"), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["file"] for row in rows] == [str(tmp_path / f"{i:03d}.png") for i in range(300)]
    predicted = np.array([classes.index(row["top_k"][0]["label"]) for row in rows])
    best = json.loads((repo / "models/best.json").read_text())["variant"]
    model = load_checkpoint(repo / f"models/checkpoints/{best}.pt", "train").build()
    logits = predict_logits(model, to_nchw(images), resolve_runtime("cpu", "fp32", 2))
    assert predicted.tolist() == logits.argmax(1).tolist()
    exported = json.loads((repo / "reports/export/metrics.json").read_text())
    assert (predicted == labels).mean() == exported["test_accuracy"]["onnx_fp32"]


def test_second_repro_has_nothing_to_do(repo):
    status = dvc(repo, "status", "--json")
    assert json.loads(status.stdout) == {}
    result = dvc(repo, "repro")
    assert "Running stage" not in result.stdout


def test_exp_run_with_bad_param_fails_naming_the_key(repo, tmp_path):
    clone = clone_run(repo, tmp_path / "clone")  # a failed -S leaves params.yaml changed
    result = dvc(clone, "exp", "run", "-S", "prepare.val_fraction=2", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "'prepare.val_fraction' must be a fraction in (0, 1); got 2" in output


def test_report_opens_in_a_browser_with_every_image_and_section(repo, tmp_path):
    result = open_in_chromium(repo / "reports/index.html", tmp_path)
    assert result["sections"] == list(REPORT_SECTIONS)
    assert len(result["images"]) >= 14
    broken = [image["src"] for image in result["images"] if image["width"] == 0]
    assert broken == []
    assert result["errors"] == []


CAPSNET = "stem_channels:[8,8],primary_types:2,primary_dim:4,class_dim:6,decoder_hidden:[16]"


def test_an_experiment_shows_its_params_and_accuracies_and_diffs(repo, tmp_path):
    """The README's comparison and its one command that adds the capsule network, in one
    experiment: a changed param and an added variant, read in exp show, exp diff and plots diff.

    `++` adds a key that params.yaml lacks; the capsnet gets its own train@ and evaluate@
    stages and the report its capsule section. On a private copy of the run (in a --temp copy
    every stage would rerun, since stages with uncached outputs never come from the run-cache).
    """
    repo = clone_run(repo, tmp_path / "clone")
    added = f"++variants.caps={{model:capsnet,options:{{{CAPSNET}}},epochs:1}}"
    result = dvc(repo, "exp", "run", "-n", "exp", "-S", "variants.cnn.epochs=2", "-S", added)
    assert "Running stage 'prepare'" not in result.stdout  # only what the changes touch
    assert "Running stage 'train@resnet'" not in result.stdout
    table = dvc(repo, "exp", "show", "--only-changed", "--csv").stdout.splitlines()
    header, rows = table[0].split(","), [row.split(",") for row in table[1:]]
    assert {"variants.cnn.epochs", "val.cnn", "test.cnn", "test.caps"} <= set(header)
    named = next(row for row in rows if "exp" in row)
    assert named[header.index("variants.cnn.epochs")] == "2"
    assert 0 <= float(named[header.index("test.caps")]) <= 1
    diff = json.loads(dvc(repo, "exp", "diff", "--json").stdout)
    assert "val.cnn" in diff["metrics"]["reports/summary/variants.json"]
    assert diff["params"]["params.yaml"]["variants.cnn.epochs"]["new"] == 2
    plots = json.loads(dvc(repo, "plots", "diff", "exp", "--json").stdout)["data"]
    curves = plots["Validation accuracy per epoch"][0]
    assert len(curves["revisions"]) == 2
    cnn = [row for row in curves["content"]["data"]["values"] if row["variant"] == "cnn"]
    assert {row["rev"] for row in cnn} == set(curves["revisions"])
    evaluation = json.loads((repo / "reports/evaluate/caps/metrics.json").read_text())
    assert evaluation["scores"] == "capsule_lengths"
    assert '<section id="capsules">' in (repo / "reports/index.html").read_text()


def test_the_documented_exp_show_fits_120_columns(repo, tmp_path):
    """The README's `dvc exp show`, right after a run and after an experiment on one param:
    the deciding metrics and the changed param in full, no column cut to `…`. (A second
    experiment adds a row of the same width: `├──` where the one has `└──`.)"""
    repo = committed_run(repo, tmp_path / "clone")
    assert_legible(exp_show_at_120(repo), ["best", "best_test", "best_val", "val.cnn"])
    dvc(repo, "exp", "run", "-S", "variants.cnn.epochs=3")
    table = exp_show_at_120(repo)
    shown = ["best", "best_test", "best_val", "val.cnn", "variants.cnn.epochs"]
    assert_legible(table, shown)
    assert len(table.splitlines()) == 7  # 3 lines of header, workspace, main, the run, 1 rule


SHIPPING = {"export", "benchmark", "model_card", "label_issues", "explorer"}


def variant_stages(variant: str) -> set[str]:
    """What a change to one variant reruns before the shipping stages: the report shows them all."""
    return {
        f"train@{variant}",
        f"evaluate@{variant}",
        f"corruptions@{variant}",
        "compare",
        "report",
    }


def test_an_experiment_reruns_only_what_it_changed(repo, tmp_path):
    """Another variant's epochs rerun its train@, evaluate@ and corruptions@, compare and the
    report (which shows every variant), nothing of the shipped model: the stages after compare
    read compare's byte-for-byte copies of the chosen variant's checkpoint and evaluation, so the
    shipped ONNX file and its noisy speed-up stay as they were. The chosen variant's epochs rerun
    them all.

    The other variant's learning rate is starved too, so that it stays behind the chosen one on
    any machine (30 validation images: a few more epochs could otherwise overtake it)."""
    repo = committed_run(repo, tmp_path / "clone")
    chosen = json.loads((repo / "models/best.json").read_text())["variant"]
    other = next(variant for variant in TINY_VARIANTS if variant != chosen)
    shipped = {name: (repo / name).read_bytes() for name in ("models/best.onnx", "models/best.pt")}
    more = {
        name: f"variants.{name}.epochs={TINY_VARIANTS[name]['epochs'] + 1}"
        for name in TINY_VARIANTS
    }
    result = dvc(repo, "exp", "run", "-S", more[other], "-S", f"++variants.{other}.lr=0.0001")
    assert json.loads((repo / "models/best.json").read_text())["variant"] == chosen
    assert stages_ran(result.stdout) == variant_stages(other)
    assert {name: (repo / name).read_bytes() for name in shipped} == shipped
    result = dvc(repo, "exp", "run", "-S", more[chosen])
    assert stages_ran(result.stdout) == variant_stages(chosen) | SHIPPING


def exp_show_at_120(repo: Path) -> str:
    return subprocess.run(
        dvc_command(*exp_show()[1:]), cwd=repo, capture_output=True, text=True,
        env=tool_env(COLUMNS="120"), check=True,
    ).stdout  # fmt: skip


def assert_legible(table: str, columns: list[str]) -> None:
    assert max(len(line) for line in table.splitlines()) <= 120, table
    assert "…" not in table, table
    assert set(columns) <= set(table.splitlines()[1].split()), table


# Imported by every Python process with its folder on PYTHONPATH: in `convnets export` alone,
# int8 calibration sees one all-black image, so its activation ranges clip every real image.
BLACK_CALIBRATION = """
import sys
if sys.argv[0].endswith("convnets") and sys.argv[1:2] == ["export"]:
    import numpy as np
    from convnets.onnx import shipping
    real = shipping.quantize_int8
    shipping.quantize_int8 = lambda fp32, images: real(fp32, np.zeros_like(images[:1]))
"""


def test_a_ruinous_int8_calibration_trips_the_gate_through_dvc_repro(repo, tmp_path):
    """The gate is on at its default in every run; a calibration that ruins int8 must trip it,
    and the export stage must fail saying so, writing neither model."""
    clone = clone_run(repo, tmp_path / "clone")
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(BLACK_CALIBRATION)
    hooked = os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH")]))
    result = subprocess.run(
        dvc_command("repro", "--force", "--single-item", "export"),
        cwd=clone, env=tool_env(PYTHONPATH=hooked), capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode != 0
    assert "points below fp32" in result.stdout + result.stderr
    assert "export.max_int8_drop allows 0.5" in result.stdout + result.stderr
    assert not (clone / "models/best.int8.onnx").exists()
    assert not (clone / "models/best.onnx").exists()
