"""What a user must know about their data before training: one line per problem, with the fix.

Bad and stray files and small classes come from `ingest` (folders only). Duplicates and class
balance are checked here for every dataset, built-in ones included, after the validation split
exists: a test image that is also in train inflates test accuracy, whoever made the data.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from convnets.data.duplicates import (
    DuplicateReport,
    cross_split_test_duplicates,
    find_duplicates,
    lines,
    pixel_digests,
)
from convnets.data.prepared import SPLITS, PreparedData

IMBALANCE = 3.0  # largest over smallest class count above which the balance line warns


@dataclass(frozen=True)
class DataChecks:
    notes: tuple[str, ...]  # every finding, one line each, naming the file and the fix
    duplicates: DuplicateReport
    dropped: int  # test images removed as duplicates of train or val images
    balance: dict[str, dict[str, int]]  # split -> class -> images

    def summary(self) -> dict:
        """What reports/data/checks.json holds (and the model card quotes)."""
        return {
            "notes": list(self.notes),
            "duplicates": self.duplicates.counts,
            "test_duplicates_dropped": self.dropped,
            "balance": self.balance,
        }


def check_data(
    data: PreparedData,
    notes: tuple[str, ...],
    max_distance: int,
    drop_test_duplicates: bool,
    files: dict[str, dict[bytes, list[str]]] | None = None,
) -> tuple[PreparedData, DataChecks]:
    """The data (test duplicates dropped when asked) and every check's findings.

    `files` (folders only) maps each source, "train" (which val is drawn from) and "test", to
    the files of each pixel digest, so a folder's findings name the file to fix.
    """
    splits = {split: data.split(split)[0] for split in SPLITS}
    report = find_duplicates(splits, max_distance)
    names = _file_names(splits, files) if files else None
    found = [*notes, *lines(report, names)]
    dropped = 0
    if drop_test_duplicates:
        drop = cross_split_test_duplicates(report)
        keep = np.setdiff1d(np.arange(len(data.y_test)), drop)
        data = replace(data, x_test=data.x_test[keep], y_test=data.y_test[keep])
        dropped = len(drop)
    balance = {
        split: {name: int(np.sum(data.split(split)[1] == i)) for i, name in enumerate(data.classes)}
        for split in SPLITS
    }
    found += _balance_lines(balance["train"])
    return data, DataChecks(tuple(found), report, dropped, balance)


def _file_names(
    splits: dict[str, np.ndarray], files: dict[str, dict[bytes, list[str]]]
) -> dict[tuple[str, int], str]:
    """(split, index) -> file. Identical pictures share a digest, so each takes the next unused
    file of it: two exact copies are named as the two files they are, never one file twice."""
    unused = {source: {d: list(names) for d, names in by.items()} for source, by in files.items()}
    named = {}
    for split, images in splits.items():
        pool = unused["test" if split == "test" else "train"]
        for index, digest in enumerate(pixel_digests(images).tolist()):
            left = pool.get(digest)
            named[(split, index)] = left.pop(0) if left else f"{split} #{index}"
    return named


def _balance_lines(counts: dict[str, int]) -> list[str]:
    smallest = min(counts, key=counts.get)
    largest = max(counts, key=counts.get)
    if counts[largest] <= IMBALANCE * max(counts[smallest], 1):
        return []
    return [
        f"classes are imbalanced: {largest!r} has {counts[largest]} training images, "
        f"{smallest!r} {counts[smallest]} (over {IMBALANCE:g}x). Accuracy then favours the "
        "large classes; read the per-class figures. Fix: add pictures of the small classes."
    ]


def markdown(checks: DataChecks, dataset: str) -> str:
    """reports/data/checks.md: the findings, then the balance table."""
    findings = "\n".join(f"- {line}" for line in checks.notes) or "- nothing to report"
    classes = list(next(iter(checks.balance.values())))
    header = "| class | " + " | ".join(SPLITS) + " |\n|---|" + "---:|" * len(SPLITS)
    rows = [
        f"| {name} | " + " | ".join(str(checks.balance[s][name]) for s in SPLITS) + " |"
        for name in classes
    ]
    return (
        f"# Data checks: {dataset}\n\n{findings}\n\n## Images per class\n\n"
        + "\n".join([header, *rows])
        + "\n"
    )
