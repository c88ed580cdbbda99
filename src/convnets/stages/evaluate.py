"""Stage `evaluate@<variant>`: test and validation metrics, confusion matrix, confident mistakes.

Validation metrics are computed the same way as test metrics, so that `compare` can choose the
best variant by validation alone.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import torch
from dvclive import Live
from sklearn.metrics import confusion_matrix

from convnets import io
from convnets.checkpoint import check_matches_data, load_checkpoint
from convnets.complexity import count_parameters, flops_per_image
from convnets.config import Params
from convnets.data.prepared import load_prepared
from convnets.errors import ConvnetsError
from convnets.evaluation import classification_metrics, confident_mistakes, predict_logits
from convnets.layout import to_nchw
from convnets.runtime import resolve_runtime, seed_everything
from convnets.visuals.evaluation import confusion_figure, mistakes_figure
from convnets.visuals.figures import save_figure

log = logging.getLogger(__name__)
HELP = "evaluate one variant on the test and validation splits"


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--variant", required=True, help="a key of `variants` in params.yaml")
    parser.add_argument("--checkpoint", type=Path, required=True, help="the variant's checkpoint")
    parser.add_argument("--prepared", type=Path, required=True, help="prepared .npz")
    parser.add_argument("--out", type=Path, required=True, help="folder for metrics and plots")


def run(args: argparse.Namespace, params: Params) -> None:
    params.variant(args.variant)  # an unknown name fails here, before any work
    producer = f"train@{args.variant}"
    ckpt = load_checkpoint(args.checkpoint, producer)
    data = load_prepared(args.prepared)
    height, width, channels = data.image_shape
    check_matches_data(
        ckpt,
        args.checkpoint,
        params.base.dataset,
        (channels, height, width),
        data.classes,
        producer,
    )
    if len(data.y_test) == 0 or len(data.y_val) == 0:
        raise ConvnetsError(
            f"{args.prepared} has an empty test or validation split. "
            "Fix: raise prepare.subset (0 keeps everything) and run `dvc repro prepare`."
        )
    seed_everything(params.base.seed, params.base.threads)
    runtime = resolve_runtime(params.base.device, "fp32", params.base.threads)  # exact numbers
    model = ckpt.build().to(runtime.device)
    cfg = params.evaluate
    tta = cfg.tta and trained_with_flips(ckpt.params, args.variant)

    def logits_of(images: np.ndarray) -> torch.Tensor:
        return predict_logits(model, to_nchw(images), runtime, cfg.batch_size, tta)

    def metrics_of(scores: torch.Tensor, labels: np.ndarray) -> dict:
        return classification_metrics(
            scores, torch.from_numpy(labels), data.classes, model.score_loss
        )

    test_logits = logits_of(data.x_test)
    test = metrics_of(test_logits, data.y_test)
    val = metrics_of(logits_of(data.x_val), data.y_val)
    summary = {
        "variant": args.variant,
        "model": ckpt.model_name,
        "test": {k: test[k] for k in ("accuracy", "loss", "macro_f1")},
        "val": {k: val[k] for k in ("accuracy", "loss", "macro_f1")},
        "parameters": count_parameters(model),
        "flops_per_image": flops_per_image(model.cpu(), ckpt.input_shape),
        "tta": tta,
        "scores": model.score_kind,  # logits, or capsule lengths (whose loss is not CE)
    }
    _write(args, data, test_logits, test, summary, cfg.mistakes, model.score_kind)
    log.info(
        "evaluate %s: test accuracy %.4f, macro F1 %.4f; val accuracy %.4f",
        args.variant,
        test["accuracy"],
        test["macro_f1"],
        val["accuracy"],
    )


def trained_with_flips(trained_params: dict, variant: str) -> bool:
    """Whether the model saw mirrored images in training: only then does flip TTA help.

    Measured here: flip TTA costs a model trained without flips (our MLP) about 9 points.
    """
    augment, train = trained_params["augment"], trained_params["train"]
    override = trained_params["variants"][variant].get("batch_augment")
    batch_augment = train["batch_augment"] if override is None else override
    return bool(augment["flip"] and (batch_augment or augment["copies"] > 0))


def _write(args, data, test_logits, test: dict, summary: dict, shown: int, score_kind: str):
    predicted = test_logits.argmax(dim=1).numpy()
    names = np.array(data.classes)
    live = Live(str(args.out), dvcyaml=False, save_dvc_exp=False)
    live.log_sklearn_plot(
        "confusion_matrix",
        names[data.y_test].tolist(),
        names[predicted].tolist(),
        name="confusion_matrix.json",
        title=f"{args.variant}: test confusion matrix",
    )
    live.end()
    io.write_json(args.out / "metrics.json", summary)
    io.write_json(args.out / "per_class.json", test["per_class"])
    matrix = confusion_matrix(data.y_test, predicted, labels=range(len(data.classes)))
    title = f"{args.variant}: test accuracy {test['accuracy']:.2%} (rows sum to 1)"
    save_figure(confusion_figure(matrix, data.classes, title), args.out / "confusion.png")
    mistakes = confident_mistakes(test_logits, torch.from_numpy(data.y_test), shown, score_kind)
    save_figure(
        mistakes_figure(data.x_test, mistakes, data.classes, f"{args.variant}: confident mistakes"),
        args.out / "mistakes.png",
    )
