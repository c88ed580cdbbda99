"""The model card: every number in it equals the one in the artifact it came from; optional
sections (calibration, OOD) appear only when their file is given."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import yaml
from onnx import TensorProto, helper

from convnets.onnx.metadata import INPUT, OUTPUT, ModelDescription
from tests.conftest import QUADRANTS, run_stage


def card_table(card: str, heading: str, index: int = 0) -> list[dict[str, str]]:
    """The rows of the `index`-th Markdown table under `## heading`, as header -> cell."""
    section = card.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    tables, rows = [], []
    for line in [*section.splitlines(), ""]:
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif rows:
            tables.append(rows)
            rows = []
    header, _, *body = tables[index]
    return [dict(zip(header, row, strict=True)) for row in body]


def number(text: str) -> float:
    """A card cell as a number: '92.49%' -> 0.9249, '1,234' -> 1234."""
    text = text.strip("`").replace(",", "")
    return float(text[:-1]) / 100 if text.endswith("%") else float(text)


def assert_card_matches(card: str, evaluation: Path, benchmark: dict, export: dict) -> None:
    """The card's numbers against the files they come from, to the digits the card prints."""
    metrics = json.loads((evaluation / "metrics.json").read_text())
    details = {row["fact"]: row["value"] for row in card_table(card, "Model details")}
    assert number(details["parameters"]) == metrics["parameters"]
    assert number(details["FLOPs per image"]) == metrics["flops_per_image"]
    overall = {row["split"]: row for row in card_table(card, "Metrics")}
    if metrics["tta"] != "none":  # the card says how the figures were scored
        assert f"averaged over {metrics['tta_views']} test-time views: {metrics['tta']}" in card
    for split in ("test", "val"):
        assert abs(number(overall[split]["accuracy"]) - metrics[split]["accuracy"]) <= 5e-5
        assert abs(number(overall[split]["macro F1"]) - metrics[split]["macro_f1"]) <= 5e-5
    per_class = json.loads((evaluation / "per_class.json").read_text())
    rows = {row["class"]: row for row in card_table(card, "Metrics", index=1)}
    assert set(rows) == set(per_class)
    for name, expected in per_class.items():
        for column, key in (("precision", "precision"), ("recall", "recall"), ("F1", "f1")):
            assert abs(number(rows[name][column]) - expected[key]) <= 5e-5, (name, key)
        assert number(rows[name]["support"]) == expected["support"]
    speeds = {row["engine"]: row for row in card_table(card, "Shipped files and speed")}
    assert set(speeds) == set(benchmark["engines"])
    for engine, result in benchmark["engines"].items():
        for p, ms in result["latency_ms"].items():
            assert abs(number(speeds[engine][f"{p} ms"]) - ms) <= 5e-4, (engine, p)
        for batch, rate in result["images_per_second"].items():
            assert abs(number(speeds[engine][f"batch {batch} img/s"]) - rate) <= 0.5
        assert abs(number(speeds[engine]["test accuracy"]) - result["test_accuracy"]) <= 5e-5
    assert f"loses {export['int8_drop_points']:.2f} points" in card
    robust = json.loads((evaluation / "corruptions.json").read_text())
    assert f"Mean corruption accuracy: **{robust['mean']:.2%}**" in card
    rows = {row["corruption"]: row for row in card_table(card, "Robustness to corruptions")}
    assert set(rows) == set(robust["accuracy"])
    for name, by_severity in robust["accuracy"].items():
        for severity, accuracy in by_severity.items():
            assert abs(number(rows[name][f"severity {severity}"]) - accuracy) <= 5e-4
    assert all(flag in card for flag in benchmark["cpu"]["flags"])


def _artifacts(root: Path, rng: np.random.Generator) -> dict:
    """Files shaped like the pipeline's, with random numbers (each written once, here)."""
    (root / "evaluate/tiny").mkdir(parents=True)
    (root / "raw").mkdir()
    score = lambda: float(rng.uniform(0.5, 1))  # noqa: E731
    split = lambda: {"accuracy": score(), "loss": score(), "macro_f1": score()}  # noqa: E731
    metrics = {"variant": "tiny", "model": "cnn", "parameters": int(rng.integers(1e3, 1e7)),
               "flops_per_image": int(rng.integers(1e5, 1e9)), "test": split(), "val": split(),
               "scores": "logits", "tta": "flip+shifts", "tta_views": 10}  # fmt: skip
    per_class = {c: {"precision": score(), "recall": score(), "f1": score(),
                     "support": int(rng.integers(1, 1000))} for c in QUADRANTS}  # fmt: skip
    engine = lambda: {  # noqa: E731
        "latency_ms": {p: score() for p in ("p50", "p90", "p99")},
        "images_per_second": {"64": 1e4 * score(), "256": 1e4 * score()},
        "test_accuracy": score(),
    }
    engines = {"pytorch_eager": engine(), "onnxruntime_fp32": engine()}
    table = {name: {str(s): score() for s in (1, 3, 5)} for name in ("jpeg", "rotate", "stripes")}
    robust = {"images": 40, "clean": score(), "mean": score(), "accuracy": table}
    benchmark = {"variant": "tiny", "engines": engines,
                 "cpu": {"machine": "x86_64", "flags": ["avx2", "avx512f"]},
                 "threads": {"torch": 2, "onnxruntime_intra_op": 2}}  # fmt: skip
    export = {"int8_drop_points": float(rng.uniform(0, 0.5)), "int8_allowed_points": 0.5}
    truth = rng.integers(0, 4, 40)
    guess = np.where(rng.random(40) < 0.3, rng.integers(0, 4, 40), truth)
    confusion = [
        {"actual": QUADRANTS[a], "predicted": QUADRANTS[p]}
        for a, p in zip(truth, guess, strict=True)
    ]
    manifest = {"dataset": "quadrants", "files": {"a.gz": {"md5": "0" * 32, "sha256": "1" * 64}}}
    duplicates = {"train-test": {"exact": int(rng.integers(1, 99)), "near": int(rng.integers(99))}}
    checks = {"notes": ["a.png: an empty file. Fix: replace it."], "duplicates": duplicates,
              "test_duplicates_dropped": 0, "balance": {}}  # fmt: skip
    for path, value in {
        "evaluate/tiny/metrics.json": metrics,
        "evaluate/tiny/per_class.json": per_class, "benchmark.json": benchmark,
        "evaluate/tiny/corruptions.json": robust,
        "export.json": export, "confusion.json": confusion, "raw/manifest.json": manifest,
        "export_trust.json": export | _trust(score), "checks.json": checks,
    }.items():  # fmt: skip
        (root / path).write_text(json.dumps(value))
    _onnx_with_metadata(root / "best.onnx")
    return {"benchmark": benchmark, "export": export, "confusion": confusion, "checks": checks}


def _onnx_with_metadata(path: Path) -> None:
    graph = helper.make_graph(
        [helper.make_node("Identity", [INPUT], [OUTPUT])], "g",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, [1, 4])],
    )  # fmt: skip
    model = helper.make_model(graph)
    description = ModelDescription(
        classes=QUADRANTS, input={"layout": "NHWC", "dtype": "uint8", "shape": [28, 28, 1]},
        dataset="quadrants", variant="tiny", model={"name": "cnn", "options": {}},
        params_hash="abc123", temperature=1.5, ood={"score": "energy", "threshold": 1.0},
    )  # fmt: skip
    helper.set_model_props(model, description.to_props())
    onnx.save(model, path)


def _card(*extra: str) -> int:
    return run_stage(
        "model_card", "--evaluation", "evaluate/tiny", "--raw", "raw",
        "--prepared", "prepared.npz", "--confusion", "confusion.json",
        "--export-metrics", "export.json", "--benchmark", "benchmark.json",
        "--onnx", "best.onnx", "--checks", "checks.json", "--out", "card/model_card.md",
        "--failures", "card/model_card/failures.png", *extra,
    )  # fmt: skip


def test_model_card_numbers_are_those_of_the_artifacts(workdir):
    written = _artifacts(workdir, np.random.default_rng(7))
    assert _card() == 0
    card = (workdir / "card/model_card.md").read_text()
    assert_card_matches(card, workdir / "evaluate/tiny", written["benchmark"], written["export"])
    assert "`abc123`" in card and "0" * 32 in card and "1" * 64 in card
    assert "Zalando" in card  # the registry's words for fashion-mnist, the params' dataset
    checks = written["checks"]
    assert f"- {checks['notes'][0]}" in card
    duplicates = {row["splits"]: row for row in card_table(card, "Data", index=1)}
    expected = checks["duplicates"]["train-test"]
    assert number(duplicates["train-test"]["exact"]) == expected["exact"]
    assert number(duplicates["train-test"]["near"]) == expected["near"]
    pairs = Counter((r["actual"], r["predicted"]) for r in written["confusion"])
    worst = max(n for (a, p), n in pairs.items() if a != p)
    failures = card_table(card, "Known failure modes")
    assert number(failures[0]["test images"]) == worst
    assert (
        "](model_card/failures.png)" in card
        and (workdir / "card/model_card/failures.png").is_file()
    )
    assert "## Calibration" not in card and "## Out-of-distribution" not in card
    assert "dvc pull" in card and "dvc repro" in card
    assert _card("--export-metrics", "export_trust.json") == 0  # the last flag wins
    card = (workdir / "card/model_card.md").read_text()
    trust = json.loads((workdir / "export_trust.json").read_text())
    calibration = card_table(card, "Calibration")
    assert number(calibration[1]["ECE (15 bins)"]) == round(
        trust["calibration"]["test"]["after"]["ece"], 4
    )
    ood = card_table(card, "Out-of-distribution inputs")
    assert [row["set"] for row in ood] == list(trust["ood"]["sets"])
    assert number(ood[0]["AUROC"]) == round(trust["ood"]["sets"]["digits"]["auroc"]["energy"], 4)


def _trust(score) -> dict:
    """Export's calibration and OOD sections, shaped as evaluation/trust.py writes them."""
    before, after = {"ece": score(), "nll": score()}, {"ece": score(), "nll": score()}
    sets = {
        name: {"images": 10, "auroc": {"energy": score(), "max_probability": score()},
               "fpr_at_95_tpr": score(), "flagged_by_predict": score()}
        for name in ("digits", "uniform_noise")
    }  # fmt: skip
    return {
        "calibration": {"temperature": 1.5, "test": {"before": before, "after": after}},
        "ood": {"score": "energy", "threshold": 1.0, "test_pass_rate": 0.95, "sets": sets},
    }


def test_a_folder_datasets_card_says_where_its_pictures_came_from_and_what_they_show(workdir):
    _artifacts(workdir, np.random.default_rng(3))
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    subject = "close-ups of three kinds of leaf, one per picture"
    params["base"]["dataset"] = "leaves"
    params["folders"] = {"leaves": {"path": "data/leaves", "size": [28, 28], "subject": subject}}
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    manifest = {"dataset": "leaves", "folder": "data/leaves", "files": {}}
    (workdir / "raw/manifest.json").write_text(json.dumps(manifest))
    assert _card() == 0
    card = (workdir / "card/model_card.md").read_text()
    assert subject in card and "Zalando" not in card
    assert "your own pictures, from `data/leaves`" in card
