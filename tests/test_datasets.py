"""The whole pipeline on MNIST (1x28x28) and CIFAR-10 (3x32x32), `convnets predict` included.

The archives are tiny, built by the tests in upstream's formats (IDX gz, CIFAR-10 binary tar.gz)
and served from 127.0.0.1; `download.checksums` vouches for them, as it would for a private
mirror. Each dataset goes through `dvc exp run -S base.dataset=... -S download.mirrors=...`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from PIL import Image

from convnets.data.datasets import get_dataset
from tests.pipeline import assert_every_stage_ran_and_wrote_its_outputs, dvc
from tests.repos import tiny_repo

pytestmark = pytest.mark.slow
# Chance is 0.1. On the fakes' bar positions (tests/fakes.py) TINY_RUN measured test accuracy
# 1.0 for both models on MNIST and 0.875 (mlp) / 1.0 (cnn) on CIFAR-10 (2 cores, fp32): 0.7
# leaves a margin for another CPU's kernels yet fails any run that learns nothing.
MIN_TEST_ACCURACY = 0.7
PREDICT_ARGS = ("--json", "--invert", "never", "--top-k", "1")


def test_mnist_runs_every_stage_from_the_private_mirror(mnist_repo, private_mirror, tmp_path):
    check_run(mnist_repo, "mnist", f"{private_mirror.server.url}/mnist/", tmp_path)


def test_cifar10_runs_every_stage_from_the_private_mirror(
    tmp_path_factory, private_mirror, tmp_path
):
    repo = tiny_repo(tmp_path_factory.mktemp("cifar10"))
    dvc(repo, "exp", "run", *private_mirror.exp_run_args("cifar10"))
    check_run(repo, "cifar10", f"{private_mirror.server.url}/cifar10/", tmp_path)


def check_run(repo: Path, dataset: str, mirror_url: str, tmp_path: Path) -> None:
    """Every stage ran on `dataset`'s shape, from the mirror, and predict reads its images."""
    assert_every_stage_ran_and_wrote_its_outputs(repo)
    spec = get_dataset(dataset)
    summary = json.loads((repo / "reports/prepare/summary.json").read_text())
    assert summary["dataset"] == dataset and summary["image_shape"] == list(spec.image_shape)
    manifest = json.loads((repo / f"data/raw/{dataset}/manifest.json").read_text())
    sources = {entry["source"] for entry in manifest["files"].values()}
    assert sources and all(source.startswith(mirror_url) for source in sources)
    model = onnx.load(str(repo / "models/best.onnx"))
    meta = {prop.key: prop.value for prop in model.metadata_props}
    assert meta["convnets.dataset"] == dataset
    assert json.loads(meta["convnets.input"])["shape"] == list(spec.image_shape)
    assert json.loads(meta["convnets.classes"]) == list(spec.classes)
    for variant in ("mlp", "cnn"):
        evaluation = json.loads((repo / f"reports/evaluate/{variant}/metrics.json").read_text())
        accuracy = evaluation["test"]["accuracy"]  # float32: 56/80 is stored as 0.69999999
        assert accuracy >= MIN_TEST_ACCURACY - 1e-6, (variant, evaluation)
    assert_predict_matches_onnxruntime(repo, dataset, tmp_path)


def assert_predict_matches_onnxruntime(repo: Path, dataset: str, tmp_path: Path) -> None:
    """`convnets predict` on PNG files of test images = onnxruntime on the same pixels."""
    with np.load(repo / f"data/prepared/{dataset}.npz", allow_pickle=False) as data:
        images, classes = data["x_test"][:6], data["classes"]
    for i, image in enumerate(images):
        pixels = image[..., 0] if image.shape[-1] == 1 else image
        Image.fromarray(pixels).save(tmp_path / f"{i}.png")
    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        [bin_dir / "convnets", "predict", tmp_path, "--model", "models/best.onnx", *PREDICT_ARGS],
        cwd=repo,
        capture_output=True,
        text=True,
        env=os.environ | {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    session = ort.InferenceSession(str(repo / "models/best.onnx"))
    logits = session.run(None, {session.get_inputs()[0].name: images})[0]
    assert [row["top_k"][0]["label"] for row in rows] == [classes[i] for i in logits.argmax(1)]
