"""`convnets bench-train` runs both paths on the same data and reports their ratio."""

from __future__ import annotations

import json

import numpy as np
import yaml

from convnets.cli import main
from convnets.data.prepared import make_splits, save_prepared
from tests.conftest import ROOT
from tests.fakes import idx_bytes, quadrant_images


def test_bench_train_reports_both_paths_and_their_ratio(tmp_path, monkeypatch):
    x, y = quadrant_images(16)
    raw = tmp_path / "raw"
    raw.mkdir()
    for prefix in ("train", "t10k"):
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(idx_bytes(x[..., 0]))
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(idx_bytes(y.astype(np.uint8)))
    classes = tuple("abcd")
    save_prepared(
        tmp_path / "p.npz", make_splits((x, y), (x, y), classes, 0.25, 0, 0, "fashion-mnist")
    )
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["variants"]["cnn"]["options"] = {"channels": [4, 8], "hidden": 16}
    params["train"]["batch_size"] = 8
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "bench.json"
    argv = ["bench-train", "--raw", "raw", "--prepared", "p.npz", "--out", str(out)]
    assert main([*argv, "--steps", "3", "--warmup", "1"]) == 0
    report = json.loads(out.read_text())
    ours = report["ours"]["images_per_second"]
    theirs = report["torchvision_dataloader"]["images_per_second"]
    assert ours > 0 and theirs > 0
    assert report["speedup"] == ours / theirs
    assert report["ours"]["steps"] == report["torchvision_dataloader"]["steps"] == 3
