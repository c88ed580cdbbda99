"""The real `dvc repro` on a small subset of the real Fashion-MNIST, in a copy of the repo."""

from __future__ import annotations

import json

import pytest

from tests.browser import REPORT_SECTIONS, open_in_chromium
from tests.pipeline import (
    assert_every_stage_ran_and_wrote_its_outputs,
    copy_repo,
    dvc,
    git,
    set_params,
)
from tests.require import require_fashion_mnist

TINY_VARIANTS = {
    "mlp": {"model": "mlp", "options": {"hidden": [32]}},
    "cnn": {"model": "cnn", "options": {"channels": [4, 8], "hidden": 16}},
    "vgg": {"model": "vgg", "options": {"widths": [4, 8], "convs_per_stage": 1}},
    "resnet": {"model": "resnet", "options": {"widths": [4, 8], "blocks_per_stage": 1}},
}

TINY_REPORT = {"report.patch_images": 100, "report.projection_images": 60, "report.ascent_steps": 4}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    require_fashion_mnist()
    repo = copy_repo(tmp_path_factory.mktemp("pipeline"))
    set_params(
        repo,
        **{
            "prepare.subset": 30,
            "train.epochs": 1,
            "augment.copies": 1,
            "variants": TINY_VARIANTS,
            "export.max_int8_drop": 100.0,  # one epoch on 270 images: int8 may wobble
            "benchmark.latency_runs": 10,
            "benchmark.throughput_runs": 2,
            "benchmark.batch_sizes": [8],
            **TINY_REPORT,
        },
    )
    dvc(repo, "repro")
    return repo


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
    best = json.loads((repo / "models/best.json").read_text())
    assert best["variant"] in TINY_VARIANTS
    export = json.loads((repo / "reports/export/metrics.json").read_text())
    assert export["variant"] == best["variant"] and export["parity"]["argmax_agreement"] == 1
    benchmark = json.loads((repo / "reports/benchmark.json").read_text())
    assert set(benchmark["engines"]) >= {"pytorch_eager", "onnxruntime_fp32", "onnxruntime_int8"}
    assert (repo / "reports/leaderboard.md").read_text().count("\n") == 2 + len(TINY_VARIANTS)


def test_exp_show_lists_every_variant_metrics(repo):
    shown = json.loads(dvc(repo, "exp", "show", "--json").stdout)
    workspace = shown[0]["data"]
    files = workspace["metrics"]
    for variant in TINY_VARIANTS:
        assert f"reports/train/{variant}/metrics.json" in files
        assert f"reports/evaluate/{variant}/metrics.json" in files
    plots = dvc(repo, "plots", "show", "--json")
    assert "reports/train/cnn/plots/metrics" in plots.stdout


def test_predict_classifies_test_images_with_the_exported_model(repo, tmp_path, capsys):
    import numpy as np
    from PIL import Image

    from convnets.data.tensors import to_nchw
    from convnets.evaluation.inference import predict_logits
    from convnets.models.checkpoint import load_checkpoint
    from convnets.predict import main as predict_main
    from convnets.runtime import resolve_runtime

    with np.load(repo / "data/prepared/fashion-mnist.npz", allow_pickle=False) as data:
        images, labels, classes = data["x_test"][:5], data["y_test"][:5], data["classes"]
    for i, image in enumerate(images):
        Image.fromarray(image[..., 0]).save(tmp_path / f"{i}.png")
    assert predict_main([str(tmp_path), "--model", str(repo / "models/best.onnx"), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["file"] for row in rows] == [str(tmp_path / f"{i}.png") for i in range(5)]
    best = json.loads((repo / "models/best.json").read_text())["variant"]
    model = load_checkpoint(repo / f"models/checkpoints/{best}.pt", "train").build()
    logits = predict_logits(model, to_nchw(images), resolve_runtime("cpu", "fp32", 2))
    assert [row["top_k"][0]["label"] for row in rows] == [classes[i] for i in logits.argmax(1)]
    assert len(labels) == 5


def test_second_repro_has_nothing_to_do(repo):
    status = dvc(repo, "status", "--json")
    assert json.loads(status.stdout) == {}
    result = dvc(repo, "repro")
    assert "Running stage" not in result.stdout


def _baseline_parameters(shown: list, variant: str) -> int:
    workspace = next(commit for commit in shown if commit["rev"] == "workspace")
    return workspace["data"]["metrics"][f"reports/evaluate/{variant}/metrics.json"]["data"][
        "parameters"
    ]


def test_exp_run_with_bad_param_fails_naming_the_key(repo):
    result = dvc(repo, "exp", "run", "-S", "prepare.val_fraction=2", check=False)
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


def test_exp_run_adds_a_capsnet_variant_and_exp_show_lists_it(repo):
    """The README's one command that adds the capsule network (issue 8), at a tiny size:
    `++` adds a key that params.yaml lacks; it gets its own train@ and evaluate@ stages, and
    the report its capsule section. Last in this module: it changes the shared workspace
    (in a --temp copy every stage would rerun, since stages with uncached outputs never come
    from DVC's run-cache)."""
    options = "stem_channels:[8,8],primary_types:2,primary_dim:4,class_dim:6,decoder_hidden:[16]"
    added = f"++variants.caps={{model:capsnet,options:{{{options}}},epochs:1}}"
    git(repo, "checkout", "--", "params.yaml")  # undo the failed bad-param experiment's -S
    result = dvc(repo, "exp", "run", "-n", "with-capsnet", "-S", added)
    assert "Running stage 'prepare'" not in result.stdout  # only what the variant touches
    shown = json.loads(dvc(repo, "exp", "show", "--json").stdout)
    experiments = [
        exp
        for commit in shown
        for exp in (commit.get("experiments") or [])
        if exp.get("name") == "with-capsnet"
    ]
    assert len(experiments) == 1
    data = experiments[0]["revs"][0]["data"]
    params = data["params"]["params.yaml"]["data"]
    assert params["variants"]["caps"]["model"] == "capsnet"
    assert set(TINY_VARIANTS) < set(params["variants"])
    metrics = data["metrics"]["reports/evaluate/caps/metrics.json"]["data"]
    assert 0 <= metrics["test"]["accuracy"] <= 1 and metrics["scores"] == "capsule_lengths"
    assert metrics["parameters"] != _baseline_parameters(shown, "cnn")
    assert '<section id="capsules">' in (repo / "reports/index.html").read_text()
