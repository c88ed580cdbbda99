"""Export: a checked, self-describing ONNX file with PyTorch parity, and the int8 gate."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import yaml
from PIL import Image

from convnets.errors import ConvnetsError
from convnets.evaluation.calibration import softmax
from convnets.models.checkpoint import load_checkpoint
from convnets.onnx import convert, parity, quantize, sessions, shipping
from convnets.onnx.metadata import INPUT, ModelDescription
from convnets.predict import load_classifier, predict
from tests.conftest import QUADRANTS, run_stage
from tests.test_evaluation import compare, corruptions, evaluate, train_tiny

DIGITS_AUROC = 0.9  # the tiny quadrant model tells digits from its data (measured: 1.0)

EXPORT_ARGS = [
    "export",
    "--checkpoint",
    "models/best.pt",
    "--prepared",
    "prepared.npz",
    "--onnx",
    "models/best.onnx",
    "--int8",
    "models/best.int8.onnx",
    "--metrics",
    "reports/export.json",
]


@pytest.fixture
def compared(workdir):
    for variant in ("tiny", "flat"):
        train_tiny(variant)
        assert evaluate(variant) == 0 and corruptions(variant) == 0
    assert compare() == 0
    return workdir


def test_export_writes_checked_models_that_describe_themselves(compared):
    assert run_stage(*EXPORT_ARGS) == 0
    metrics = json.loads((compared / "reports/export.json").read_text())
    parity = metrics["parity"]
    assert max(parity[k] for k in parity if k.startswith("max_abs")) <= 1e-4
    assert parity["argmax_agreement"] == 1.0
    accuracy = metrics["test_accuracy"]
    assert accuracy["onnx_fp32"] == accuracy["pytorch"]
    assert metrics["int8_drop_points"] <= 0.5
    proto = onnx.load(str(compared / "models/best.onnx"))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version >= 17
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["convnets.classes"]) == list(QUADRANTS)
    assert json.loads(meta["convnets.input"]) == {
        "layout": "NHWC",
        "dtype": "uint8",
        "shape": [28, 28, 1],
    }
    best = json.loads((compared / "models/best.json").read_text())["variant"]
    assert meta["convnets.variant"] == best
    int8 = onnx.load(str(compared / "models/best.int8.onnx"))
    assert any(node.op_type == "QuantizeLinear" for node in int8.graph.node)
    assert {p.key for p in int8.metadata_props} == set(meta)
    session = sessions.onnx_session((compared / "models/best.onnx").read_bytes(), 1)
    batch = np.zeros((5, 28, 28, 1), dtype=np.uint8)  # the batch axis is dynamic
    assert session.run(None, {INPUT: batch})[0].shape == (5, 4)
    trusted(compared, metrics, meta)


def trusted(folder, metrics: dict, meta: dict) -> None:
    """Issue 15: temperature, OOD figures, both files' probabilities, and predict's flag."""
    temperature = json.loads(meta["convnets.temperature"])
    assert metrics["calibration"]["temperature"] == temperature > 0
    test = metrics["calibration"]["test"]
    # >= 0: the toy model may separate the test images perfectly, and then the fitted
    # temperature sharpens every probability to 1.0 in float32
    assert 0 <= test["after"]["ece"] <= 1 and test["after"]["nll"] >= 0
    sets = metrics["ood"]["sets"]
    assert set(sets) == {"digits", "photo_crops", "uniform_noise", "gaussian_noise", "blank"}
    assert sets["digits"]["auroc"][metrics["ood"]["score"]] > DIGITS_AUROC
    images = np.random.default_rng(0).integers(0, 256, (8, 28, 28, 1), dtype=np.uint8)
    for name in ("best.onnx", "best.int8.onnx"):
        run = sessions.onnx_session((folder / "models" / name).read_bytes(), 1).run
        logits, probabilities = run(None, {INPUT: images})
        np.testing.assert_allclose(probabilities, softmax(logits, temperature), atol=0.02)
    noise = folder / "noise.png"
    Image.fromarray(images[0, ..., 0]).save(noise)
    model = load_classifier(folder / "models/best.onnx", 1)
    [(_, answer)] = list(predict([noise], model, 1, "auto", 8))
    assert answer.unsure and answer.score < model.ood[1]


def test_broken_calibration_trips_the_int8_gate(compared, monkeypatch, capsys):
    real = quantize.quantize_int8

    def broken(fp32, calibration):  # one black image: every activation range collapses
        return real(fp32, np.zeros_like(calibration[:1]))

    monkeypatch.setattr(shipping, "quantize_int8", broken)
    assert run_stage(*EXPORT_ARGS) == 1
    assert "points below fp32" in capsys.readouterr().err
    assert not (compared / "models/best.onnx").exists()
    assert not (compared / "models/best.int8.onnx").exists()


def test_parity_failure_is_refused(compared):
    variant = json.loads((compared / "models/best.json").read_text())["variant"]
    model = load_checkpoint(compared / f"models/checkpoints/{variant}.pt", "t").build()
    shape = {"layout": "NHWC", "dtype": "uint8", "shape": [28, 28, 1]}
    fp32 = convert.export_onnx(model, ModelDescription(classes=QUADRANTS, input=shape))
    session = sessions.onnx_session(fp32, 1)
    images = np.random.default_rng(0).integers(0, 256, (9, 28, 28, 1), dtype=np.uint8)
    exact = sessions.onnx_logits(session, images)
    assert parity.parity(exact, session, images, 1e-4)["max_abs_diff_all"] == 0.0
    with pytest.raises(ConvnetsError, match="ONNX and PyTorch disagree"):
        parity.parity(exact + 1e-3, session, images, 1e-4)


def test_benchmark_times_every_engine_and_judges_the_targets(compared):
    assert run_stage(*EXPORT_ARGS) == 0
    params = yaml.safe_load((compared / "params.yaml").read_text())
    params["benchmark"].update(latency_runs=10, throughput_runs=2, warmup=1, batch_sizes=[4, 8])
    (compared / "params.yaml").write_text(yaml.safe_dump(params))
    assert (
        run_stage(
            "benchmark",
            "--checkpoint",
            "models/best.pt",
            "--onnx",
            "models/best.onnx",
            "--int8",
            "models/best.int8.onnx",
            "--prepared",
            "prepared.npz",
            "--out",
            "reports/benchmark.json",
            "--plot",
            "reports/benchmark.png",
            "--summary",
            "reports/shipped.json",
        )
        == 0
    )
    shipped = json.loads((compared / "reports/shipped.json").read_text())
    assert set(shipped) == {"int8_test", "ort_speedup"}
    report = json.loads((compared / "reports/benchmark.json").read_text())
    engines = report["engines"]
    assert set(engines) == {"pytorch_eager", "onnxruntime_fp32", "onnxruntime_int8"}
    for result in engines.values():
        assert 0 < result["latency_ms"]["p50"] <= result["latency_ms"]["p99"]
        assert set(result["images_per_second"]) == {"4", "8"}
        assert 0 <= result["test_accuracy"] <= 1
    ratio = (
        engines["pytorch_eager"]["latency_ms"]["p50"]
        / engines["onnxruntime_fp32"]["latency_ms"]["p50"]
    )
    assert report["ratios"]["onnx_fp32_over_pytorch_batch1"] == pytest.approx(ratio)
    assert shipped["ort_speedup"] == pytest.approx(ratio)
    assert len(report["verdicts"]) >= 2 and all("target" in v for v in report["verdicts"][:2])
    assert report["file_bytes"]["onnx_int8"] < report["file_bytes"]["onnx_fp32"]
    assert (compared / "reports/benchmark.png").stat().st_size > 0


def test_int8_gate_allows_two_test_images_on_a_small_split_and_the_param_on_a_large_one():
    from convnets.onnx.shipping import int8_allowance

    assert int8_allowance(0.5, 10_000) == 0.5  # the default run: the param rules
    small = int8_allowance(0.5, 359)  # a folder of 1,797 digits: one image is 0.28 points
    assert small == 100 * 2 / 359 and int8_allowance(0.0, 359) == small
    assert int8_allowance(1.0, 359) == 1.0
