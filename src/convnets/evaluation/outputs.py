"""What `evaluate` writes: metrics, per-class scores, confusion matrix, confident mistakes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from dvclive import Live
from sklearn.metrics import confusion_matrix

from convnets import io
from convnets.data.prepared import PreparedData
from convnets.evaluation.assessment import Assessment
from convnets.evaluation.metrics import confident_mistakes, probabilities
from convnets.figures.results import confusion_figure, mistakes_figure
from convnets.figures.style import save_figure


def write_assessment(out: Path, data: PreparedData, assessment: Assessment, shown: int) -> None:
    """Every file of `reports/evaluate/<variant>/`, each written atomically."""
    variant, kind = assessment.summary["variant"], assessment.summary["scores"]
    predicted = assessment.test_scores.argmax(dim=1).numpy()
    names = np.array(data.classes)
    live = Live(str(out), dvcyaml=False, save_dvc_exp=False)
    live.log_sklearn_plot(
        "confusion_matrix",
        names[data.y_test].tolist(),
        names[predicted].tolist(),
        name="confusion_matrix.json",
        title=f"{variant}: test confusion matrix",
    )
    live.end()
    io.write_json(out / "metrics.json", assessment.summary)
    # Out-of-sample class probabilities (the model never trained on val or test): what
    # confident learning needs to find likely label errors (stage label_issues).
    io.save_npz(
        out / "probabilities.npz",
        **{
            split: probabilities(scores, kind).numpy().astype(np.float32)
            for split, scores in (("val", assessment.val_scores), ("test", assessment.test_scores))
        },
    )
    io.write_json(out / "per_class.json", assessment.test["per_class"])
    matrix = confusion_matrix(data.y_test, predicted, labels=range(len(data.classes)))
    title = f"{variant}: test accuracy {assessment.test['accuracy']:.2%} (rows sum to 1)"
    save_figure(confusion_figure(matrix, data.classes, title), out / "confusion.png")
    labels = torch.from_numpy(data.y_test)
    mistakes = confident_mistakes(assessment.test_scores, labels, shown, kind)
    figure = mistakes_figure(data.x_test, mistakes, data.classes, f"{variant}: confident mistakes")
    save_figure(figure, out / "mistakes.png")
