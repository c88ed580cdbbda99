"""Sharing: push the pipeline's results to a DVC remote, and a fresh clone pulls and uses them."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.pipeline import clone_run, dvc, git
from tests.test_model_card import assert_card_matches

pytestmark = pytest.mark.slow


def test_clone_pulls_from_the_remote_and_has_nothing_to_rerun(mnist_repo, tmp_path):
    mnist_repo = clone_run(mnist_repo, tmp_path / "origin")  # commits and a remote: a copy
    remote = tmp_path / "remote"
    dvc(mnist_repo, "remote", "add", "-d", "local", str(remote))
    git(mnist_repo, "add", "-A")  # params, dvc.lock, the remote and the uncached reports
    git(mnist_repo, "commit", "-q", "-m", "pipeline results, shared through a local remote")
    dvc(mnist_repo, "push")
    assert any(remote.rglob("*")), "push sent nothing"
    artifacts = yaml.safe_load((mnist_repo / "dvc.yaml").read_text())["artifacts"]
    for name in artifacts:  # register a version: the git tag `dvc artifacts get` looks for
        git(mnist_repo, "tag", "-a", f"{name}@v1.0.0", "-m", f"Registering {name} v1.0.0")

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(mnist_repo), str(clone)], check=True)
    assert "local" in dvc(clone, "remote", "list").stdout
    assert not (clone / "models/best.onnx").exists()
    _assert_registry_round_trip(clone, artifacts, mnist_repo, tmp_path / "registry")
    dvc(clone, "pull")

    assert json.loads(dvc(clone, "status", "--json").stdout) == {}
    assert "Running stage" not in dvc(clone, "repro").stdout
    for name in ("models/best.onnx", "models/best.int8.onnx", "data/prepared/mnist.npz"):
        assert _sha256(clone / name) == _sha256(mnist_repo / name), name
    _assert_predict_runs(clone)
    _assert_card_matches_its_sources(clone)


def _assert_registry_round_trip(clone: Path, artifacts: dict, source: Path, out: Path) -> None:
    """`dvc artifacts get <clone> <name>`, before the clone pulled anything: each model comes
    from the local remote, byte for byte what the pipeline wrote."""
    out.mkdir()
    for name, artifact in artifacts.items():
        assert artifact["type"] == "model" and artifact["desc"] and artifact["labels"]
        target = out / Path(artifact["path"]).name
        dvc(out, "artifacts", "get", str(clone), name, "-o", str(target))
        assert _sha256(target) == _sha256(source / artifact["path"]), name


def _assert_card_matches_its_sources(clone: Path) -> None:
    """The card `dvc repro` wrote for the real pipeline, against the files it read."""
    benchmark = json.loads((clone / "reports/benchmark.json").read_text())
    export = json.loads((clone / "reports/export/metrics.json").read_text())
    card = (clone / "reports/model_card.md").read_text()
    assert_card_matches(card, clone / "reports/compare/best", benchmark, export)
    assert (clone / "reports/model_card/failures.png").is_file()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _assert_predict_runs(clone: Path) -> None:
    """`convnets predict` works on the pulled model, on a pulled test image."""
    import numpy as np
    from PIL import Image

    with np.load(clone / "data/prepared/mnist.npz", allow_pickle=False) as data:
        image, classes = data["x_test"][0], list(data["classes"])
    Image.fromarray(image[..., 0]).save(clone / "digit.png")
    convnets = Path(sys.executable).parent / "convnets"
    result = subprocess.run(
        [convnets, "predict", "digit.png", "--model", "models/best.onnx", "--json"],
        cwd=clone,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["top_k"][0]["label"] in classes
