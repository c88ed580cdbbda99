"""The README's grid: experiments queued with `dvc exp run --queue`, run by `dvc queue start`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.pipeline import committed_run, dvc, stages_ran

pytestmark = pytest.mark.slow
RUNS = (10, 11)  # benchmark.latency_runs: at least 10
# A grid over the CNN's training, each run on one thread and stopped at its train stage: what
# runs side by side is training, and its checkpoint and metrics show any difference.
LEARNING_RATES = (0.05, 0.2)
ONE_THREAD = "base.threads=1"
TARGET = "train@cnn"
TRAINED = ("models/checkpoints/cnn.pt", "reports/train/cnn/metrics.json")


def test_a_queued_grid_runs_and_exp_show_lists_each_with_params_and_metrics(mnist_repo, tmp_path):
    repo = committed_run(mnist_repo, tmp_path / "grid")
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
    dvc(repo, "queue", "start", log=tmp_path / "queue-start.log")
    status, _ = _wait_for_queue(repo)
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


def test_two_queue_workers_give_what_the_same_runs_one_after_another_give(mnist_repo, tmp_path):
    """`dvc queue start --jobs 2`, each worker on one thread, against `dvc exp run` of the same
    points in turn: the same metrics and the same checkpoint bytes (same params, data and thread
    count give the same results, whoever runs them beside whom)."""
    repo = committed_run(mnist_repo, tmp_path / "grid")
    for lr in LEARNING_RATES:
        settings = ("-S", ONE_THREAD, "-S", f"train.lr={lr}")
        dvc(repo, "exp", "run", "--queue", "-n", f"queued-{lr}", *settings, TARGET)
    dvc(repo, "queue", "start", "--jobs", "2", log=tmp_path / "queue-start.log")
    status, most_running = _wait_for_queue(repo)
    assert status.count("Success") == 2 and most_running == 2, status
    for lr in LEARNING_RATES:
        settings = ("-S", ONE_THREAD, "-S", f"train.lr={lr}")
        ran = dvc(repo, "exp", "run", "-n", f"serial-{lr}", *settings, TARGET).stdout
        assert stages_ran(ran) == {TARGET}, ran

    results = _results(repo)
    for lr in LEARNING_RATES:
        assert results[f"queued-{lr}"] == results[f"serial-{lr}"], lr
    assert results["queued-0.05"] != results["queued-0.2"]  # the points differ: equality says so


def _wait_for_queue(repo: Path, timeout_s: float = 600) -> tuple[str, int]:
    """`dvc queue status` once every queued run has ended and its workers are gone, and the
    most runs seen running at once."""
    deadline = time.monotonic() + timeout_s
    most_running = 0
    while time.monotonic() < deadline:
        status = dvc(repo, "queue", "status").stdout
        rows = [line.split() for line in status.splitlines()]
        most_running = max(most_running, sum("Running" in row for row in rows))
        busy = any("Queued" in row or "Running" in row for row in rows)
        if not busy and "Worker status: 0 active, 0 idle" in status:
            break
        time.sleep(1)
    return status, most_running


def _results(repo: Path) -> dict[str, dict[str, str]]:
    """Per experiment: the trained checkpoint's and its metrics' hashes, from `dvc exp show
    --json` (what each experiment's commit records)."""
    shown = json.loads(dvc(repo, "exp", "show", "--json").stdout)
    return {
        exp["name"]: {path: exp["revs"][0]["data"]["outs"][path]["hash"] for path in TRAINED}
        for commit in shown
        for exp in commit.get("experiments") or []
    }
