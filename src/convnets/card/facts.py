"""Everything the model card says, read from what the pipeline wrote; nothing typed by hand.

The one exception is prose: what a dataset's images show, for the intended-use paragraph, from
the dataset registry or the folder's `subject` in params.yaml.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import onnx

from convnets import io
from convnets.data.fetch import MANIFEST
from convnets.onnx.metadata import ModelDescription

WORST_PAIRS = 3  # confused (true, predicted) pairs listed as failure modes
EXAMPLES = 4  # test images shown per pair


@dataclass(frozen=True)
class CardInputs:
    """The artifacts the card reads. Calibration and OOD come from export's metrics, when it
    wrote them (a section each)."""

    evaluation: Path  # compare's copy of the chosen variant's metrics.json and per_class.json
    raw: Path  # download's folder, with its manifest
    confusion: Path  # compare's per-image (actual, predicted) of the chosen variant
    export_metrics: Path
    benchmark: Path
    onnx: Path  # the shipped fp32 model: its metadata gives the params hash
    checks: Path  # prepare's data checks JSON: duplicates, balance, bad files
    subject: str  # what the images show: the registry's words, or the folder's `subject`


def gather(inputs: CardInputs, max_int8_drop: float) -> dict:
    """The card's facts as plain data: what the Markdown renders and a test can compare."""
    metrics = io.read_json(inputs.evaluation / "metrics.json", producer="compare")
    description = ModelDescription.from_model(onnx.load(inputs.onnx, load_external_data=False))
    export = io.read_json(inputs.export_metrics, producer="export")
    drop = export["int8_drop_points"]
    allowed = export["int8_allowed_points"]  # max_int8_drop, or two test images if more
    gate = {"drop_points": drop, "max_drop": max_int8_drop, "allowed": allowed,
            "passed": drop <= allowed + 1e-9}  # fmt: skip
    facts = {
        "variant": metrics["variant"],
        "model": description.model,
        "metrics": metrics,
        "per_class": io.read_json(inputs.evaluation / "per_class.json", producer="compare"),
        "corruptions": io.read_json(inputs.evaluation / "corruptions.json", producer="compare"),
        "manifest": io.read_json(inputs.raw / MANIFEST, producer="download"),
        "classes": list(description.classes),
        "input": description.input,
        "params_hash": description.params_hash,
        "git_revision": git_revision(),
        "int8_gate": gate,
        "export": export,
        "benchmark": io.read_json(inputs.benchmark, producer="benchmark"),
        "confusions": worst_pairs(io.read_json(inputs.confusion, producer="compare")),
        "data_checks": io.read_json(inputs.checks, producer="prepare"),
        "data_checks_page": inputs.checks.with_suffix(".md").as_posix(),  # prepare writes both
        "subject": inputs.subject,
    }
    for name in ("calibration", "ood"):
        facts[name] = export.get(name)  # written by export since temperature scaling
    return facts


def worst_pairs(rows: list[dict], count: int = WORST_PAIRS) -> list[dict]:
    """The most frequent (true, predicted) mistakes in test order: counts, the share of the true
    class they take, and the indices of the first `EXAMPLES` test images of each."""
    support = Counter(row["actual"] for row in rows)
    pairs = Counter((r["actual"], r["predicted"]) for r in rows if r["actual"] != r["predicted"])
    worst = sorted(pairs.items(), key=lambda item: (-item[1], item[0]))[:count]
    return [
        {
            "true": true,
            "predicted": predicted,
            "count": n,
            "share": n / support[true],
            "examples": [
                i for i, r in enumerate(rows) if (r["actual"], r["predicted"]) == (true, predicted)
            ][:EXAMPLES],
        }
        for (true, predicted), n in worst
    ]


def git_revision() -> str:
    """The commit the card was built at, or "unknown" outside a git checkout."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip() if result.returncode == 0 else "unknown"


def intended_use(dataset: str, facts: dict) -> tuple[str, str]:
    """What the model is for, and what it is not for, from the dataset and the input contract."""
    height, width, channels = facts["input"]["shape"]
    kind = "grayscale" if channels == 1 else "colour"
    subject = facts["subject"] or f"the kind in the folder dataset {dataset}"
    classes = ", ".join(facts["classes"])
    use = (
        f"Sorting {height}x{width} {kind} images of {subject} into one of "
        f"{len(facts['classes'])} classes: {classes}. A teaching and benchmarking model for "
        f"images like {dataset}'s test split."
    )
    not_for = (
        f"Images of anything outside these classes (it will still name one of them, often "
        f"confidently); photos with backgrounds, several objects, or a different framing than "
        f"{dataset}'s; images at another size (resizing to {height}x{width} changes what the "
        "model sees); any decision about people. Accuracy was measured on "
        f"{dataset}'s own test split only."
    )
    return use, not_for
