"""`convnets bench-train`: each variant per precision beside its ceiling, and the tutorial way."""

from __future__ import annotations

import json
import statistics

import numpy as np
import pytest
import torch
import yaml

from convnets.benchmarks import throughput
from convnets.cli import main
from convnets.data.prepared import make_splits, save_prepared
from convnets.runtime import cpu_has_bf16, resolve_runtime
from convnets.training import speed
from convnets.training.precision import PRECISIONS
from tests.conftest import ROOT
from tests.fakes import idx_bytes, quadrant_images

TINY = {
    "mlp": {"model": "mlp", "options": {"hidden": [8]}, "batch_augment": False},
    "cnn": {"model": "cnn", "options": {"channels": [4, 8], "hidden": 16}},
}


def test_bench_train_reports_every_variant_and_the_tutorial_ratio(tmp_path, monkeypatch):
    x, y = quadrant_images(16)
    raw = tmp_path / "raw"
    raw.mkdir()
    for prefix in ("train", "t10k"):
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(idx_bytes(x[..., 0]))
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(idx_bytes(y.astype(np.uint8)))
    data = make_splits((x, y), (x, y), tuple("abcd"), 0.25, 0, 0, "fashion-mnist")
    save_prepared(tmp_path / "p.npz", data)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["variants"] = TINY
    params["train"]["batch_size"] = 8
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONVNETS_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "bench.json"
    argv = ["bench-train", "--raw", "raw", "--prepared", "p.npz", "--out", str(out)]
    assert main([*argv, "--steps", "3", "--warmup", "1", "--repeats", "2"]) == 0
    report = json.loads(out.read_text())
    assert set(report["variants"]) == set(TINY)
    for table in report["variants"].values():
        assert table["faster"] in PRECISIONS and set(PRECISIONS) <= set(table)
        assert table["auto_is_faster"] == (table["auto"]["precision"] == table["faster"])
        if not cpu_has_bf16():  # emulated bf16 is never chosen, whatever it measured
            assert table["auto"]["precision"] == "fp32" and not table["auto"]["images_per_second"]
        for precision in PRECISIONS:
            row = table[precision]
            emulated = precision == "bf16" and not cpu_has_bf16()
            assert row["repeats"] == len(row["shares"]) == (1 if emulated else 2)
            assert row["share_of_ceiling"] == pytest.approx(statistics.median(row["shares"]))
    assert report["variants"]["mlp"]["batch_augment"] is False
    assert report["variants"]["cnn"]["batch_augment"] is True
    comparison = report["tutorial_comparison"]
    ours = comparison["ours"]["images_per_second"]
    theirs = comparison["torchvision_dataloader"]["images_per_second"]
    assert comparison["speedup"] == ours / theirs > 0
    assert comparison["ours"]["steps"] == comparison["torchvision_dataloader"]["steps"] == 3


def test_the_ceiling_steps_on_one_resident_batch_and_the_table_picks_the_faster(monkeypatch):
    seen = []
    monkeypatch.setattr(
        speed, "train_step", lambda net, opt, x, y, rt, ls: seen.append(x.data_ptr())
    )
    images = torch.zeros(40, 1, 8, 8, dtype=torch.uint8)
    labels = torch.zeros(40, dtype=torch.int64)
    runtime = resolve_runtime("cpu", "fp32", 1)
    model = torch.nn.Linear(1, 1)
    speed.resident_batch_rate(model, images, labels, runtime, 8, steps=4, warmup=1)
    assert len(seen) == 5 and len(set(seen)) == 1  # the same tensor every step

    # ours, ceiling per precision, one pair per repeat: shares 0.5, 0.9, 0.2 (fp32) and 0.9375
    rates = {
        "fp32": iter([(100.0, 200.0), (90.0, 100.0), (60.0, 300.0)]),
        "bf16": iter([(150.0, 160.0)]),
    }
    pair = {}

    def fake(kind):
        def measure(model, images, labels, runtime, *args):
            if kind == 0:
                pair[runtime.precision] = next(rates[runtime.precision])
            return speed.Throughput(pair[runtime.precision][kind], 1.0, 1)

        return measure

    monkeypatch.setattr(throughput, "ours", fake(0))
    monkeypatch.setattr(throughput, "resident_batch_rate", fake(1))
    runtimes = {"fp32": runtime, "bf16": runtime.__class__(runtime.device, "bf16", 1)}
    repeats = {"fp32": 3, "bf16": 1}
    table = throughput.precision_table(
        lambda: model, images, labels, runtimes, 8, None, 1, 0, repeats
    )
    assert table["faster"] == "bf16"  # median ours: 150 against 90
    assert table["fp32"]["share_of_ceiling"] == 0.5  # the median pair's share, not 90 / 200
    assert (table["fp32"]["ours"], table["fp32"]["ceiling"]) == (90.0, 200.0)
    assert table["fp32"]["shares"] == [0.5, 0.9, 0.2] and table["bf16"]["repeats"] == 1
