"""Same params, data and threads: `dvc repro --force` repeats every result bit for bit.

Wall times live in each train stage's timing.json (an output, not a metric), so every metrics
file, dvclive plot, checkpoint and ONNX file can be compared byte for byte. Two files are left
out on purpose: reports/benchmark.json, a timing report by nature (latencies and throughput of
this machine, this minute), and PNGs whose content shows timings (the leaderboard's
accuracy-against-training-time plot).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.pipeline import clone_run, dvc, set_params

pytestmark = pytest.mark.slow
TIMING_REPORTS = {"reports/summary/shipped.json"}  # onnxruntime's speed-up: wall times


def result_files(repo: Path) -> list[str]:
    """Every metrics file, the summaries DVC shows, dvclive's plots, and every model file."""
    shown = json.loads(dvc(repo, "exp", "show", "--json").stdout)
    metrics = set(shown[0]["data"]["metrics"]) - TIMING_REPORTS
    metrics |= {str(p.relative_to(repo)) for p in (repo / "reports").glob("**/metrics.json")}
    metrics |= {"reports/prepare/summary.json", "reports/compare/curves.csv"}
    plots = {str(p.relative_to(repo)) for p in (repo / "reports").glob("*/*/plots/**/*.*")}
    models = {str(p.relative_to(repo)) for p in (repo / "models").rglob("*.*")}
    return sorted(metrics | plots | models)


def digests(repo: Path) -> dict[str, str]:
    return {
        name: hashlib.sha256((repo / name).read_bytes()).hexdigest() for name in result_files(repo)
    }


def test_force_repro_repeats_every_result_bit_for_bit(mnist_repo, tmp_path):
    """Every stage up to the exported models, forced: the stages after export (benchmark,
    report, model card, explorer) only read these files and write timings and pictures.

    On a private copy: the new wall times leave `report` (which shows them) out of date, and
    the shared run must stay complete for the tests that publish it."""
    mnist_repo = clone_run(mnist_repo, tmp_path / "forced")
    before = digests(mnist_repo)
    assert {"models/best.onnx", "models/best.int8.onnx", "reports/train/cnn/metrics.json"} <= set(
        before
    )
    assert "reports/train/cnn/plots/metrics/val/loss.tsv" in before
    timing = mnist_repo / "reports/train/cnn/timing.json"
    first_timing = timing.read_text()

    result = dvc(mnist_repo, "repro", "--force", "export")

    upstream = ("download", "prepare", "augment", "train@", "evaluate@", "corruptions@", "compare",
                "export")  # fmt: skip
    stages = dvc(mnist_repo, "stage", "list", "--name-only").stdout.split()
    forced = [stage for stage in stages if stage.startswith(upstream)]
    assert result.stdout.count("Running stage") == len(forced) == 3 * 2 + 5
    after = digests(mnist_repo)
    assert sorted(after) == sorted(before)
    assert [name for name in before if before[name] != after[name]] == []
    assert timing.read_text() != first_timing  # it did run again: only the wall times moved


def test_another_seed_changes_metrics_and_models(mnist_repo, tmp_path):
    """On a private copy, up to one trained model: the split, augmentation, initialisation and
    batch order all follow the seed, and everything downstream only reads what they made."""
    repo = clone_run(mnist_repo, tmp_path / "seeded")
    before = digests(repo)
    set_params(repo, **{"base.seed": 7})
    dvc(repo, "repro", "train@cnn")
    after = digests(repo)
    seeded = [
        "models/checkpoints/cnn.pt",
        "reports/train/cnn/metrics.json",
        "reports/train/cnn/plots/metrics/val/loss.tsv",
    ]
    assert [name for name in seeded if before[name] == after[name]] == []
