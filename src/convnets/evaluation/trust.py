"""Trust in an exported model: the temperature, the OOD score and threshold, and what they achieve.

The temperature is fitted on the validation split; the test split only measures (ECE and NLL
before and after). Both OOD scores are computed on validation images against the offline
outlier sets, the one separating better on average is kept, and its threshold is set so that
95% of validation images pass; AUROC and FPR at 95% TPR are then reported with the test split
as the in-distribution side.

Capsule networks: their scores are capsule lengths, each already the probability that its class
is present, not logits. Temperature 1 is recorded and the lengths pass through unchanged (no
softmax): dividing lengths by T would change what a length means, and the margin loss does not
train them as one distribution. ECE is measured on the top length; NLL is not defined (None), and
the OOD score is the top length (energy needs logits).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from convnets.data.outliers import outlier_sets
from convnets.data.prepared import PreparedData
from convnets.evaluation import calibration as cal
from convnets.onnx.metadata import OOD_SCORES, likeness

KEEP = 0.95  # share of in-distribution (validation) images the OOD threshold lets pass


@dataclass(frozen=True)
class Trust:
    temperature: float
    ood: dict  # the metadata's {"score": ..., "threshold": ...}
    metrics: dict  # calibration and ood sections of reports/export/metrics.json


def fit_trust(
    scores_of: Callable[[np.ndarray], np.ndarray],
    data: PreparedData,
    test_scores: np.ndarray,
    softmax: bool,
    ood_images: int,
    seed: int,
) -> Trust:
    """Fit the temperature and the OOD threshold on validation, measure both on test.

    `scores_of`: uint8 NHWC images -> the model's scores (N, K), through predict_logits.
    """
    val_scores = scores_of(data.x_val)
    temperature = cal.fit_temperature(val_scores, data.y_val) if softmax else 1.0
    calibration = _calibration(test_scores, data.y_test, temperature, softmax)
    calibration["fitted_on"] = f"validation split ({len(data.y_val)} images), minimizing NLL"
    height, width, channels = data.x_test.shape[1:]
    sets = outlier_sets(height, width, channels, ood_images, seed)
    outside = {name: (scores_of(pixels), found) for name, (pixels, found) in sets.items()}
    ood = _ood(val_scores, test_scores, outside, temperature, softmax)
    metadata = {"score": ood["score"], "threshold": ood["threshold"]}
    return Trust(temperature, metadata, {"calibration": calibration, "ood": ood})


def _probabilities(scores: np.ndarray, temperature: float, softmax: bool) -> np.ndarray:
    return cal.softmax(scores, temperature) if softmax else scores


def _calibration(scores: np.ndarray, labels: np.ndarray, temperature: float, softmax: bool):
    """Test ECE and NLL before (T = 1) and after, and the reliability diagram's bins."""
    before = cal.reliability(_probabilities(scores, 1.0, softmax), labels)
    after = cal.reliability(_probabilities(scores, temperature, softmax), labels)

    def nll(t: float) -> float | None:
        return cal.nll(scores, labels, t) if softmax else None

    return {
        "temperature": temperature,
        "test": {
            "before": {"ece": before["ece"], "nll": nll(1.0)},
            "after": {"ece": after["ece"], "nll": nll(temperature)},
        },
        "bins": {"before": before["bins"], "after": after["bins"]},
    }


def _ood(val_scores, test_scores, outside: dict, temperature: float, softmax: bool) -> dict:
    """Pick the score on validation, set its threshold, measure every outlier set on test."""

    def like(scores: np.ndarray, kind: str) -> np.ndarray:
        probabilities = _probabilities(scores, temperature, softmax)
        return likeness(scores, probabilities, kind, temperature)

    kinds = OOD_SCORES if softmax else ("max_probability",)
    val_auroc = {
        k: float(np.mean([cal.auroc(like(val_scores, k), like(s, k)) for s, _ in outside.values()]))
        for k in kinds
    }
    kind = max(kinds, key=lambda k: val_auroc[k])
    threshold = cal.threshold_for(like(val_scores, kind), KEEP)
    per_set = {}
    for name, (scores, found) in outside.items():
        score = like(scores, kind)
        per_set[name] = {
            "images": len(score),
            "auroc": {k: cal.auroc(like(test_scores, k), like(scores, k)) for k in kinds},
            "fpr_at_95_tpr": cal.false_positive_rate(score, threshold),
            "flagged_by_predict": float(((score < threshold) | ~found).mean()),
        }
    return {
        "score": kind,
        "threshold": threshold,
        "chosen_by": {"mean_validation_auroc": val_auroc},
        "test_pass_rate": float((like(test_scores, kind) >= threshold).mean()),
        "sets": per_set,
    }
