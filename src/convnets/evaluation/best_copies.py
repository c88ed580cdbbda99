"""Byte-for-byte copies of the chosen variant's files, under names that do not say which
variant it is: the stages after compare read these alone, so an experiment on another variant
leaves them unchanged and reruns none of those stages."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from convnets import io

CONFUSION = Path("plots/sklearn/confusion_matrix.json")  # where evaluate's dvclive writes it
EVALUATION = ("metrics.json", "per_class.json", "probabilities.npz")  # what later stages read
CORRUPTIONS = "corruptions.json"  # the corruptions result, beside the evaluation copies


@dataclass(frozen=True)
class Sources:
    evaluations: Path  # folder of evaluate@<variant> folders
    corruptions: Path  # folder of corruptions@<variant> JSON files
    checkpoints: Path  # folder of <variant>.pt


@dataclass(frozen=True)
class Targets:
    confusion: Path  # the evaluation's per-image confusion data
    evaluation: Path  # folder: the evaluation's files and the corruptions result
    checkpoint: Path


def copy_best(variant: str, sources: Sources, targets: Targets) -> None:
    """Copy `variant`'s files; a missing or corrupt source names the stage that makes it."""
    evaluation = sources.evaluations / variant
    io.read_json(evaluation / CONFUSION, producer=f"evaluate@{variant}")  # refuses a corrupt file
    copies = [(evaluation / CONFUSION, targets.confusion, f"evaluate@{variant}")]
    copies += [(evaluation / n, targets.evaluation / n, f"evaluate@{variant}") for n in EVALUATION]
    copies += [
        (sources.corruptions / f"{variant}.json", targets.evaluation / CORRUPTIONS,
         f"corruptions@{variant}"),
        (sources.checkpoints / f"{variant}.pt", targets.checkpoint, f"train@{variant}"),
    ]  # fmt: skip
    for source, target, producer in copies:
        io.copy_file(source, target, producer)
