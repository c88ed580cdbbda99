"""`auto` threads: every core this process may run on, resolved once and recorded as a number."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from convnets import threads
from convnets.config import parse_params
from tests.conftest import ROOT, train_stage


@pytest.fixture
def three_cores(monkeypatch):
    """An affinity mask of three cores, whatever this machine has."""
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 2, 5})


def _params_with(value):
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["base"]["threads"] = value
    return parse_params(raw)


def test_auto_is_the_affinity_mask_and_a_number_pins(three_cores):
    assert _params_with("auto").base.threads == 3
    assert _params_with(1).base.threads == 1


def test_the_default_is_auto():
    assert yaml.safe_load((ROOT / "params.yaml").read_text())["base"]["threads"] == "auto"


def test_training_records_the_resolved_number(workdir, three_cores):
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["base"]["threads"] = "auto"
    params["train"]["epochs"] = 1
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    assert train_stage("flat", "flat.pt", "live") == 0
    metrics = json.loads((workdir / "live/metrics.json").read_text())["best"]
    assert metrics["threads"] == 3
    checkpoint = torch.load(workdir / "flat.pt", weights_only=True)
    assert checkpoint["params"]["base"]["threads"] == 3


def test_predict_resolves_auto_by_the_same_rule(three_cores, monkeypatch, tmp_path):
    from convnets import predict

    seen = {}

    def fake_load(path, count):
        seen["threads"] = count
        raise predict.PredictError("stop here")

    monkeypatch.setattr(predict, "load_classifier", fake_load)
    assert predict.main([str(tmp_path), "--model", str(tmp_path / "m.onnx")]) == 1
    assert seen["threads"] == 3
    assert predict.main([str(tmp_path), "--model", "m.onnx", "--threads", "1"]) == 1
    assert seen["threads"] == 1
    with pytest.raises(SystemExit):
        predict.main([str(tmp_path), "--threads", "0"])
