"""Metrics computed from scores and labels: they never run a model (see `inference`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

ScoreLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def loss_and_accuracy(
    scores: torch.Tensor, labels: torch.Tensor, score_loss: ScoreLoss = F.cross_entropy
) -> tuple[float, float]:
    """The model's plain loss (its `score_loss`; cross-entropy by default) and accuracy."""
    loss = score_loss(scores, labels).item()
    accuracy = (scores.argmax(dim=1) == labels).float().mean().item()
    return loss, accuracy


def classification_metrics(
    logits: torch.Tensor,
    labels: torch.Tensor,
    classes: tuple[str, ...],
    score_loss: ScoreLoss = F.cross_entropy,
) -> dict:
    """Accuracy, loss and macro F1, plus precision, recall and F1 for each class."""
    # Imported here: training imports this module for `loss_and_accuracy` every epoch and
    # should not pay scikit-learn's seconds of import time in every train stage.
    from sklearn.metrics import f1_score, precision_recall_fscore_support

    loss, accuracy = loss_and_accuracy(logits, labels, score_loss)
    predicted = logits.argmax(dim=1).numpy()
    truth = labels.numpy()
    every = list(range(len(classes)))
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=every, zero_division=0
    )
    per_class = {
        name: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(classes)
    }
    return {
        "accuracy": accuracy,
        "loss": loss,
        "macro_f1": float(
            f1_score(truth, predicted, labels=every, average="macro", zero_division=0)
        ),
        "per_class": per_class,
    }


def probabilities(scores: torch.Tensor, score_kind: str = "logits") -> torch.Tensor:
    """Class probabilities (N, classes): softmax of logits; capsule lengths as they are.

    A capsule's length is already the probability that its class is present (Sabour et al.),
    independently per class, so lengths are not normalized to sum to 1.
    """
    return scores if score_kind == "capsule_lengths" else scores.softmax(dim=1)


def confident_mistakes(
    scores: torch.Tensor, labels: torch.Tensor, count: int, score_kind: str = "logits"
) -> list[dict]:
    """The `count` wrong predictions made with the highest probability, most confident first."""
    confidence, predicted = probabilities(scores, score_kind).max(dim=1)
    wrong = np.flatnonzero((predicted != labels).numpy())
    order = wrong[np.argsort(-confidence.numpy()[wrong], kind="stable")][:count]
    return [
        {
            "index": int(i),
            "true": int(labels[i]),
            "predicted": int(predicted[i]),
            "probability": float(confidence[i]),
        }
        for i in order
    ]
