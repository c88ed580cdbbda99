"""The README's grid: experiments queued with `dvc exp run --queue`, run by `dvc queue start`."""

from __future__ import annotations

import json
import time

import pytest

from tests.pipeline import clone_run, dvc, git

pytestmark = pytest.mark.slow
RUNS = (10, 11)  # benchmark.latency_runs: at least 10


def test_a_queued_grid_runs_and_exp_show_lists_each_with_params_and_metrics(mnist_repo, tmp_path):
    repo = clone_run(mnist_repo, tmp_path / "grid")
    git(repo, "add", "-A")  # the run's lock in HEAD: queued runs redo only what a param touches
    git(repo, "commit", "-q", "-m", "baseline run")
    # A grid over a benchmark setting: each queued run redoes only the benchmark and what reads
    # it, so the test shows the queue's mechanics without retraining (the README's grid of
    # epochs works the same way, only slower).
    for runs in RUNS:
        dvc(
            repo,
            "exp",
            "run",
            "--queue",
            "-n",
            f"runs-{runs}",
            "-S",
            f"benchmark.latency_runs={runs}",
        )
    dvc(repo, "queue", "start")
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        status = dvc(repo, "queue", "status").stdout
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(2)
    assert status.count("Success") == 2, status
    shown = json.loads(dvc(repo, "exp", "show", "--json").stdout)
    found = {
        exp["name"]: exp["revs"][0]["data"]
        for commit in shown
        for exp in commit.get("experiments") or []
    }
    assert {f"runs-{runs}" for runs in RUNS} <= set(found)
    for runs in RUNS:
        data = found[f"runs-{runs}"]
        assert data["params"]["params.yaml"]["data"]["benchmark"]["latency_runs"] == runs
        summary = data["metrics"]["reports/summary/variants.json"]["data"]
        assert set(summary["val"]) == {"mlp", "cnn"} and 0 <= summary["val"]["cnn"] <= 1
        shipped = data["metrics"]["reports/summary/shipped.json"]["data"]
        assert shipped["ort_speedup"] > 0
    curves = (repo / "reports/compare/curves.csv").read_text()  # the workspace kept its own run
    assert curves == (mnist_repo / "reports/compare/curves.csv").read_text()
