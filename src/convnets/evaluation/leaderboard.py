"""Compare variants side by side and choose the best one by validation accuracy.

The test set is reported, never used to choose: choosing by test would make the reported test
accuracy an optimistic, selected number.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from convnets import io

COLUMNS = [
    "variant",
    "model",
    "val_accuracy",
    "test_accuracy",
    "test_macro_f1",
    "test_loss",
    "corruption_accuracy",
    "parameters",
    "flops_per_image",
    "train_seconds",
]


def read_evaluations(
    evaluations: Path, timings: Path, corruptions: Path, variants: list[str]
) -> dict[str, dict]:
    """Each variant's evaluate metrics, with its training wall time from train's timing.json and
    its mean corruption accuracy from the corruptions stage.

    Wall time lives beside the train metrics, not in them: it is not reproducible.
    """
    found = {}
    for name in variants:
        metrics = io.read_json(evaluations / name / "metrics.json", producer=f"evaluate@{name}")
        timing = io.read_json(timings / name / "timing.json", producer=f"train@{name}")
        robust = io.read_json(corruptions / f"{name}.json", producer=f"corruptions@{name}")
        found[name] = metrics | {
            "train_seconds": timing["train_seconds"],
            "corruptions": robust,
        }
    return found


def leaderboard(evaluations: dict[str, dict]) -> pd.DataFrame:
    """One row per variant from its evaluate metrics and train wall time, best validation first."""
    rows = [
        {
            "variant": variant,
            "model": m["model"],
            "val_accuracy": m["val"]["accuracy"],
            "test_accuracy": m["test"]["accuracy"],
            "test_macro_f1": m["test"]["macro_f1"],
            "test_loss": _cross_entropy(m),
            "corruption_accuracy": m["corruptions"]["mean"],
            "parameters": m["parameters"],
            "flops_per_image": m["flops_per_image"],
            "train_seconds": m["train_seconds"],
        }
        for variant, m in evaluations.items()
    ]
    table = pd.DataFrame(rows, columns=COLUMNS)
    # Ties on validation accuracy go to the smaller model, then to the name (deterministic).
    return table.sort_values(
        ["val_accuracy", "parameters", "variant"], ascending=[False, True, True]
    ).reset_index(drop=True)


def _cross_entropy(metrics: dict) -> float:
    """The test loss where it is cross-entropy on logits; a capsule network's margin loss is on
    another scale, so its cell stays empty rather than look ten times better."""
    if metrics.get("scores", "logits") != "logits":
        return float("nan")
    return metrics["test"]["loss"]


def choose_best(table: pd.DataFrame) -> dict:
    """The first row of the leaderboard, with the reason it was chosen."""
    best = table.iloc[0]
    runner_up = (
        f"; next: {table.iloc[1]['variant']} at {table.iloc[1]['val_accuracy']:.4f}"
        if len(table) > 1
        else ""
    )
    return {
        "variant": str(best["variant"]),
        "model": str(best["model"]),
        "val_accuracy": float(best["val_accuracy"]),
        "test_accuracy": float(best["test_accuracy"]),
        "parameters": int(best["parameters"]),
        "reason": (
            f"highest validation accuracy ({best['val_accuracy']:.4f}) of {len(table)} "
            f"variants{runner_up}. Chosen by validation only; test accuracy is reported, "
            f"never used to choose."
        ),
    }


def write_leaderboard(table: pd.DataFrame, stem: Path) -> None:
    """The table as `<stem>.csv` (for tools) and `<stem>.md` (for people)."""
    with io.atomic_write(stem.with_suffix(".csv"), "w") as handle:
        table.to_csv(handle, index=False, float_format="%.6g")
    with io.atomic_write(stem.with_suffix(".md"), "w") as handle:
        handle.write(to_markdown(table))


def to_markdown(table: pd.DataFrame) -> str:
    shown = table.assign(
        val_accuracy=table["val_accuracy"].map("{:.2%}".format),
        test_accuracy=table["test_accuracy"].map("{:.2%}".format),
        test_macro_f1=table["test_macro_f1"].map("{:.4f}".format),
        test_loss=table["test_loss"].map(_loss_cell),
        corruption_accuracy=table["corruption_accuracy"].map("{:.2%}".format),
        parameters=table["parameters"].map("{:,}".format),
        flops_per_image=(table["flops_per_image"] / 1e6).map("{:.2f} M".format),
        train_seconds=table["train_seconds"].map("{:.0f}".format),
    )
    return shown.to_markdown(index=False) + "\n"


def _loss_cell(loss: float) -> str:
    return "" if pd.isna(loss) else f"{loss:.4f}"
