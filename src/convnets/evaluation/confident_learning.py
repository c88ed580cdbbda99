"""Likely label errors by confident learning (Northcutt et al. 2021), through cleanlab.

numpy and cleanlab only, on out-of-sample probabilities already computed (a model's softmax on
the validation and test splits it never trained on). cleanlab estimates, per pair of classes, how
many images labelled j are really k, and flags that many of the labelled-j images the model most
confidently puts in k ("prune_by_noise_rate"). Each flagged image comes back with the model's
suggested class and its label quality: the probability the model gives the label it was given
(cleanlab's "self_confidence"), so lower means more likely wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from cleanlab.filter import find_label_issues as cleanlab_find_label_issues
from cleanlab.rank import get_label_quality_scores

from convnets.errors import ConvnetsError

SUM_TOLERANCE = 1e-3  # how far a row of probabilities may sum from 1 (float32 softmax: ~1e-6)
MIN_PER_CLASS = 2  # cleanlab never flags a class with fewer, nor finds errors into a missing one
TOP = 50  # issues listed by `summarize`


@dataclass(frozen=True)
class LabelIssue:
    """One image whose given label the model confidently disagrees with."""

    split: str  # "val", "test", ...
    index: int  # position in that split's arrays
    given: int  # the label in the dataset
    suggested: int  # the model's top class
    quality: float  # p(given label | image) under the model: lower = more likely wrong


def find_label_issues(
    probabilities: dict[str, np.ndarray], labels: dict[str, np.ndarray]
) -> list[LabelIssue]:
    """Every flagged image of every split, lowest quality first (ties: by split, then index).

    `probabilities[split]` is (N, K), out of sample, rows summing to 1; `labels[split]` is (N,)
    ints in [0, K). Each split is judged on its own, since confident learning estimates noise
    rates from the split it is given.
    """
    if set(probabilities) != set(labels):
        raise ConvnetsError(
            f"probabilities are given for splits {sorted(probabilities)} but labels for "
            f"{sorted(labels)}. Fix: pass both for the same splits."
        )
    issues = []
    for split in probabilities:
        probs, given = _checked(split, probabilities[split], labels[split])
        # n_jobs=1: no process pool (2-core machines, and the result must not depend on it)
        flagged = cleanlab_find_label_issues(
            given, probs, return_indices_ranked_by="self_confidence", n_jobs=1
        )
        quality = get_label_quality_scores(given, probs, method="self_confidence")
        suggested = probs.argmax(axis=1)
        issues += [
            LabelIssue(split, int(i), int(given[i]), int(suggested[i]), float(quality[i]))
            for i in flagged
        ]
    return sorted(issues, key=lambda issue: (issue.quality, issue.split, issue.index))


def _checked(split: str, probs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The split's arrays as float64 (N, K) and int64 (N,), or a ConvnetsError naming the problem.

    These are cleanlab's own demands (2-D probabilities in [0, 1], integer labels below K, at
    least two classes) plus what it only warns about: a class with fewer than two images is never
    flagged, and a class with none can never be suggested.
    """
    probs, labels = np.asarray(probs), np.asarray(labels)
    fix = "Fix: pass the softmax of the model's logits on this split, and its integer labels."
    if probs.ndim != 2 or probs.shape[1] < 2:
        raise ConvnetsError(
            f"the {split!r} probabilities must be an (N, K) array with K >= 2 classes. "
            f"Got shape {probs.shape} instead. {fix}"
        )
    if labels.ndim != 1 or len(labels) != len(probs):
        raise ConvnetsError(
            f"the {split!r} labels must be an (N,) array matching the probabilities' "
            f"{probs.shape}. Got shape {labels.shape} instead. {fix}"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise ConvnetsError(
            f"the {split!r} labels must be integers. Got dtype {labels.dtype} instead. {fix}"
        )
    probs = probs.astype(np.float64)
    sums = probs.sum(axis=1)
    bad = ~(np.all((probs >= 0) & (probs <= 1), axis=1) & (np.abs(sums - 1) <= SUM_TOLERANCE))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ConvnetsError(
            f"the {split!r} probabilities must lie in [0, 1] with rows summing to 1. "
            f"Got {int(bad.sum())} rows that do not (row {row} sums to {sums[row]:.4g}). "
            "Fix: pass softmax(logits), not the logits."
        )
    classes = probs.shape[1]
    if np.any((labels < 0) | (labels >= classes)):
        raise ConvnetsError(
            f"the {split!r} labels must lie in [0, {classes}) for {classes} columns of "
            f"probabilities. Got labels from {labels.min()} to {labels.max()} instead. {fix}"
        )
    counts = np.bincount(labels, minlength=classes)
    if counts.min() < MIN_PER_CLASS:
        few = [int(k) for k in np.flatnonzero(counts < MIN_PER_CLASS)]
        raise ConvnetsError(
            f"the {split!r} split must hold at least {MIN_PER_CLASS} images of every class for "
            f"confident learning. Got fewer for class(es) {few} (counts {counts.tolist()}). "
            "Fix: use a larger split (raise prepare.subset, 0 keeps everything)."
        )
    return probs, labels.astype(np.int64)


def too_few(labels: dict[str, np.ndarray], classes: int) -> str:
    """Why confident learning cannot run on these splits ("" when it can): a class with fewer
    than MIN_PER_CLASS images in a split, common in a small folder of your own pictures."""
    for split, values in labels.items():
        counts = np.bincount(values, minlength=classes)
        if counts.min() < MIN_PER_CLASS:
            few = [int(k) for k in np.flatnonzero(counts < MIN_PER_CLASS)]
            return (
                f"the {split} split holds fewer than {MIN_PER_CLASS} images of class(es) {few}; "
                "add pictures to those classes to have their labels checked"
            )
    return ""


def summarize(issues: list[LabelIssue], sizes: dict[str, int], classes: Sequence[str]) -> dict:
    """JSON-ready: how many images each split flags (count and share), and the `TOP` worst."""
    splits = {}
    for split, size in sorted(sizes.items()):
        flagged = sum(issue.split == split for issue in issues)
        splits[split] = {"images": size, "flagged": flagged, "share": _share(flagged, size)}
    total = sum(sizes.values())
    return {
        "method": "confident learning (cleanlab, prune_by_noise_rate, self_confidence)",
        "splits": splits,
        "total": {"images": total, "flagged": len(issues), "share": _share(len(issues), total)},
        "top": [
            {
                "split": issue.split,
                "index": issue.index,
                "given": classes[issue.given],
                "suggested": classes[issue.suggested],
                "quality": round(issue.quality, 4),
            }
            for issue in issues[:TOP]
        ],
    }


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0
