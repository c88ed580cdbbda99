"""The few numbers and curves that compare variants at a glance, for `dvc exp show` and plots.

Each stage keeps its detailed files; `compare` distils them into a small declared metrics file
(validation and test accuracy, test macro F1 and mean corruption accuracy per variant, and the
chosen one), the validation
curves of every variant in one long table, and the chosen variant's confusion data, so that
`dvc exp show` reads in a terminal and `dvc plots show` draws the variants side by side.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from convnets.errors import ConvnetsError

CURVES = {"val_accuracy": ("val/accuracy", "accuracy"), "val_loss": ("val/loss", "loss")}


def decision_metrics(table: pd.DataFrame, best: dict) -> dict:
    """Short keys on purpose: `dvc exp show` names a column by its key path (`val.cnn`)."""

    def by_variant(column: str) -> dict[str, float]:
        return {str(row["variant"]): float(row[column]) for _, row in table.iterrows()}

    return {
        "best": best["variant"],
        "best_val": best["val_accuracy"],
        "best_test": best["test_accuracy"],
        "val": by_variant("val_accuracy"),
        "test": by_variant("test_accuracy"),
        "f1": by_variant("test_macro_f1"),  # macro F1 on the test split
        "corrupt": by_variant("corruption_accuracy"),  # mean over the corruption suite
    }


def validation_curves(train_reports: Path, variants: list[str]) -> pd.DataFrame:
    """One row per variant and epoch: validation accuracy and loss, from dvclive's TSV files."""
    frames = []
    for variant in variants:
        columns = {}
        for name, (curve, column) in CURVES.items():
            path = train_reports / variant / "plots" / "metrics" / f"{curve}.tsv"
            try:
                columns[name] = pd.read_csv(path, sep="\t").set_index("step")[column]
            except (OSError, KeyError, pd.errors.ParserError) as exc:
                raise ConvnetsError(
                    f"{path} is missing or unreadable ({type(exc).__name__}). "
                    f"Fix: run `dvc repro train@{variant}`."
                ) from None
        frame = pd.DataFrame(columns).reset_index(drop=True)
        frame.insert(0, "epoch", range(1, len(frame) + 1))
        frame.insert(0, "variant", variant)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
