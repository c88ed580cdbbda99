"""`train.precision: auto` takes the faster precision, measured once per machine and model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from convnets.config import load_params
from convnets.data.prepared import PreparedData
from convnets.errors import ConvnetsError
from convnets.runtime import resolve_runtime
from convnets.training import trainer
from convnets.training.distributed import World
from convnets.training.precision import choose_precision, probe_key
from tests.conftest import ROOT
from tests.fakes import quadrant_images


def rates(**measured: float):
    """A fake `measure` returning the given images/s, recording what it was asked."""
    asked = []

    def measure(precision: str) -> float:
        asked.append(precision)
        return measured[precision]

    measure.asked = asked
    return measure


@pytest.mark.parametrize("requested", ["fp32", "bf16"])
def test_an_explicit_precision_is_kept_and_nothing_is_measured(requested, tmp_path):
    measure = rates(fp32=1.0, bf16=2.0)
    choice = choose_precision(requested, True, "k", measure, tmp_path / "cache.json")
    assert choice.precision == requested and measure.asked == []


def test_without_native_bf16_auto_is_fp32_without_measuring(tmp_path):
    measure = rates(fp32=1.0, bf16=9.0)
    choice = choose_precision("auto", False, "k", measure, tmp_path / "cache.json")
    assert choice.precision == "fp32" and measure.asked == []
    assert not (tmp_path / "cache.json").exists()


@pytest.mark.parametrize(
    ("fp32", "bf16", "faster"), [(790.0, 687.0, "fp32"), (2011.0, 3342.0, "bf16")]
)
def test_auto_takes_the_faster_and_the_cache_repeats_the_choice(fp32, bf16, faster, tmp_path):
    cache = tmp_path / "cache.json"
    first = choose_precision("auto", True, "vgg", rates(fp32=fp32, bf16=bf16), cache)
    assert first.precision == faster and first.rates == {"fp32": fp32, "bf16": bf16}
    # Later runs on this machine: the same choice, even if a new measurement would differ.
    again = rates(fp32=bf16, bf16=fp32)
    assert choose_precision("auto", True, "vgg", again, cache).precision == faster
    assert again.asked == []
    other = rates(fp32=1.0, bf16=2.0)  # another model or machine is measured afresh
    assert choose_precision("auto", True, "cnn", other, cache).precision == "bf16"
    assert sorted(other.asked) == ["bf16", "fp32"]
    assert set(json.loads(cache.read_text())) == {"vgg", "cnn"}


@pytest.mark.parametrize("content", ["{not json", '{"k": {"fp32": "fast"}}', "[1, 2]"])
def test_a_corrupt_cache_is_measured_again_and_rewritten(content, tmp_path):
    cache = tmp_path / "cache.json"
    cache.write_text(content)
    measure = rates(fp32=1.0, bf16=2.0)
    assert choose_precision("auto", True, "k", measure, cache).precision == "bf16"
    assert measure.asked and json.loads(cache.read_text()) == {"k": {"fp32": 1.0, "bf16": 2.0}}


def test_the_key_changes_with_the_machine_and_the_model():
    machine, model = {"cpu": "x", "onednn_max_cpu_isa": ""}, {"model": "vgg", "batch_size": 128}
    key = probe_key(machine, model)
    assert key == probe_key(dict(machine), dict(model))
    assert key != probe_key(machine | {"onednn_max_cpu_isa": "AVX2"}, model)
    assert key != probe_key(machine, model | {"batch_size": 256})


def test_bf16_where_it_is_emulated_is_refused_naming_the_fix(monkeypatch):
    monkeypatch.setattr("convnets.runtime.cpu_has_bf16", lambda: False)
    with pytest.raises(ConvnetsError, match=r"no native bf16.*train.precision=auto"):
        resolve_runtime("cpu", "bf16", 1)


def test_measuring_leaves_trainings_random_stream_where_it_was(monkeypatch, tmp_path):
    """A cache miss measures and a hit does not: training must start the same either way."""
    monkeypatch.setenv("CONVNETS_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(trainer, "native_bf16", lambda device: True)
    monkeypatch.setattr(trainer, "PROBE_STEPS", 1)
    monkeypatch.setattr(trainer, "PROBE_WARMUP", 0)
    recipe = load_params(ROOT / "params.yaml").recipe("cnn")
    x, y = quadrant_images(8)
    data = PreparedData(x, y, x, y, x, y, ("a", "b", "c", "d"), "quadrants")
    outcomes = []
    for _ in range(2):  # a miss, then a hit
        torch.manual_seed(0)
        runtime, choice = trainer.choose_runtime(recipe, data, torch.device("cpu"), World())
        outcomes.append((runtime.precision, choice.reason[:8], torch.rand(3)))
    (p1, why1, r1), (p2, why2, r2) = outcomes
    assert p1 == p2 and (why1, why2) == ("measured", "measured")
    torch.manual_seed(0)
    assert torch.equal(r1, r2) and torch.equal(r1, torch.rand(3))
    assert np.isfinite(choice.rates["bf16"]) and choice.reason.startswith("measured earlier")
