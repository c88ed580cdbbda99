"""Experiments over several machines: a shared git remote and a DVC remote, nothing else shared.

docs/experiments.md ("Experiments over several machines") shows these commands. The git remote is
a bare repository and the DVC remote a folder; each machine is a `git clone` with its own DVC
cache, filled from the DVC remote by `dvc exp run --pull`, never copied from another machine.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from tests.pipeline import ROOT, clone_run, dvc, git, stages_ran

pytestmark = pytest.mark.slow

# Machine A: a benchmark setting reruns benchmark and the stages that read it, no training.
RUNS = ("runs-11", "benchmark.latency_runs=11")
# Machine B: an explorer setting reruns only the explorer, whose outputs all live in DVC's cache,
# so DVC's run cache records it (a stage with a `cache: false` output gets no record).
SITE = ("site-50", "explorer.test_images=50")
CACHED = "Stage 'explorer' is cached - skipping run, checking out outputs"


def test_machines_share_experiments_through_a_git_and_a_dvc_remote(
    mnist_repo, tmp_path, monkeypatch
):
    monkeypatch.setenv("COLUMNS", "120")  # dvc exp show's table, as in a 120-column terminal
    shared = _publish_baseline(clone_run(mnist_repo, tmp_path / "origin"), tmp_path)

    a = _machine(shared, tmp_path / "a")
    ran = _run_and_push(a, *RUNS)
    assert stages_ran(ran) == {"benchmark", "model_card", "report"}, ran
    for name in ("data/prepared/mnist.npz", "models/best.onnx"):  # pulled, not rebuilt
        assert _sha256(a / name) == _sha256(mnist_repo / name), name

    b = _machine(shared, tmp_path / "b")
    ran = _run_and_push(b, *SITE)
    assert stages_ran(ran) == {"explorer"}, ran  # data and models came from the DVC remote

    c = _machine(shared, tmp_path / "c")
    listed = dvc(c, "exp", "list", "origin").stdout.split()
    assert {RUNS[0], SITE[0]} <= set(listed), listed
    dvc(c, "exp", "pull", "origin", RUNS[0], SITE[0])
    found = _experiments(c)
    assert set(found) == {RUNS[0], SITE[0]}
    assert found[RUNS[0]]["params"]["benchmark"]["latency_runs"] == 11
    assert found[SITE[0]]["params"]["explorer"]["test_images"] == 50
    for data in found.values():
        assert data["metrics"]["reports/summary/variants.json"]["best"] in {"mlp", "cnn"}
        assert data["metrics"]["reports/summary/shipped.json"]["ort_speedup"] > 0
    table = _exp_show_table(c)
    assert table[RUNS[0]]["benchmark.latency_runs"] == "11", table
    assert table[SITE[0]]["explorer.test_images"] == "50", table

    # B's explorer run, pushed with --run-cache: C gets its outputs back instead of running it.
    ran = dvc(c, "exp", "run", "--pull", "-S", SITE[1]).stdout
    assert CACHED in ran.splitlines() and "Running stage" not in ran, ran


def test_allow_missing_runs_compare_without_its_inputs_in_a_fresh_clone(mnist_repo, tmp_path):
    """Why the docs say `--pull` alone: `reports/evaluate` holds git-tracked files and
    DVC-cached ones, so a fresh clone has half of it; DVC counts that as a changed dependency of
    `compare`, and `--allow-missing` skips the evaluate stages that would have pulled the rest."""
    shared = _publish_baseline(clone_run(mnist_repo, tmp_path / "origin"), tmp_path)
    clone = _machine(shared, tmp_path / "clone")
    result = dvc(clone, "exp", "run", "--pull", "--allow-missing", "-S", RUNS[1], check=False)
    assert result.returncode != 0
    assert "Stage 'evaluate@cnn' didn't change, skipping" in result.stdout
    assert "Running stage 'compare'" in result.stdout
    assert "ERROR: failed to reproduce 'compare'" in result.stderr


def _publish_baseline(origin: Path, tmp_path: Path) -> str:
    """The machine that ran the baseline: commit it with a DVC remote, push git and DVC."""
    storage = tmp_path / "dvc-remote"
    shared = tmp_path / "shared.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(shared)], check=True)
    dvc(origin, "remote", "add", "-d", "storage", str(storage))
    git(origin, "add", "-A")  # params, dvc.lock, .dvc/config and the reports git keeps
    git(origin, "commit", "-q", "-m", "baseline results, shared through two remotes")
    git(origin, "remote", "add", "origin", str(shared))
    git(origin, "push", "-q", "origin", "main")
    dvc(origin, "push")
    assert any((storage / "files").rglob("*")), "dvc push sent nothing"
    # A stale stage would run on every machine and blur what each experiment reran.
    assert "up to date" in dvc(origin, "status").stdout, "the shared run is not complete"
    return str(shared)


def _machine(shared: str, dest: Path) -> Path:
    """A fresh clone of the shared git remote, set up as `make setup` would (npm's
    onnxruntime-web for the explorer stage), with an empty DVC cache of its own."""
    subprocess.run(["git", "clone", "-q", shared, str(dest)], check=True)
    if (ROOT / "node_modules").is_dir():
        (dest / "node_modules").symlink_to(ROOT / "node_modules")
    assert not (dest / ".dvc/cache").exists() and not (dest / "models/best.onnx").exists()
    assert "cache" not in (dest / ".dvc/config").read_text()  # no shared cache configured
    return dest


def _run_and_push(clone: Path, name: str, setting: str) -> str:
    """One machine's experiment: run it with what it needs pulled, then push it."""
    ran = dvc(clone, "exp", "run", "--pull", "-n", name, "-S", setting).stdout
    dvc(clone, "exp", "push", "--run-cache", "origin", name)
    return ran


def _experiments(clone: Path) -> dict[str, dict]:
    """`dvc exp show --json`: each experiment's params.yaml and summary metrics."""
    shown = json.loads(dvc(clone, "exp", "show", "--json").stdout)
    return {
        exp["name"]: {
            "params": exp["revs"][0]["data"]["params"]["params.yaml"]["data"],
            "metrics": {
                path: metric["data"] for path, metric in exp["revs"][0]["data"]["metrics"].items()
            },
        }
        for commit in shown
        for exp in commit.get("experiments") or []
    }


def _exp_show_table(clone: Path) -> dict[str, dict[str, str]]:
    """The docs' `dvc exp show --only-changed` table: each experiment's row by column name."""
    shown = dvc(clone, "exp", "show", "--only-changed", "--drop", r"Created|.*/|.*\.json").stdout
    lines = shown.splitlines()
    columns = next(line.split() for line in lines if "Experiment" in line)[1:]
    rows = {}
    for line in lines:
        words = line.split()
        named = [i for i, word in enumerate(words) if word.startswith("[") and word.endswith("]")]
        if named:
            rows[words[named[0]][1:-1]] = dict(zip(columns, words[named[0] + 1 :], strict=True))
    return rows


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
