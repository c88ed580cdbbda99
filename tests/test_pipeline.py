"""The real `dvc repro` on a small subset of the real Fashion-MNIST, in a copy of the repo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.pipeline import copy_repo, dvc, set_params

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path("/usr/share/datasets/fashion-mnist").is_dir(),
        reason="Debian's dataset-fashion-mnist is not installed (make test installs it)",
    ),
]


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    repo = copy_repo(tmp_path_factory.mktemp("pipeline"))
    set_params(repo, **{"prepare.subset": 30})
    dvc(repo, "repro")
    return repo


def test_repro_writes_every_output(repo):
    summary = json.loads((repo / "reports/prepare/summary.json").read_text())
    assert summary["sizes"] == {"train": 270, "val": 30, "test": 300}
    assert (repo / "data/prepared/fashion-mnist.npz").stat().st_size > 0
    assert len(list((repo / "data/raw/fashion-mnist").iterdir())) == 5


def test_second_repro_has_nothing_to_do(repo):
    status = dvc(repo, "status", "--json")
    assert json.loads(status.stdout) == {}
    result = dvc(repo, "repro")
    assert "Running stage" not in result.stdout


def test_exp_run_with_bad_param_fails_naming_the_key(repo):
    result = dvc(repo, "exp", "run", "-S", "prepare.val_fraction=2", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "'prepare.val_fraction' must be a fraction in (0, 1); got 2" in output
