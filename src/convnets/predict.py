"""`convnets predict IMAGE_OR_DIR...`: classify image files with the exported ONNX model.

Imports onnxruntime, numpy and Pillow, the metadata contract (`onnx/metadata.py`) and the photo
preparation (`photos.py`, numpy and Pillow): never torch, the `onnx` package or training code,
so it starts fast.
The model describes itself (classes, input shape, layout, temperature, OOD threshold); it takes
raw uint8 pixels, normalizes inside the graph and outputs calibrated probabilities.

An input is "unsure" when its out-of-distribution score is below the threshold chosen at export
(95% of validation images pass), or when nothing in it stands out from the background.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convnets.onnx.metadata import MetadataError, ModelDescription, likeness
from convnets.photos import PictureError, Prepared, fit, open_picture, prepare
from convnets.threads import AUTO, resolve_threads

UNSURE = "unsure: unlike the training data"

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff"}


class PredictError(Exception):
    """A problem with one input or with the model, stated in one line with its fix."""


@dataclass(frozen=True)
class Classifier:
    session: object  # onnxruntime.InferenceSession
    classes: tuple[str, ...]
    height: int
    width: int
    channels: int
    scores: str = "logits"  # what the model outputs: logits, or capsule_lengths
    temperature: float = 1.0
    ood: tuple[str, float] = ("max_probability", 0.0)  # score kind, threshold
    framing: str = "object"  # how a picture is fitted to the input: ModelDescription.framing

    def outputs(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(scores, probabilities) for uint8 images (N, H, W, C), both (N, K).

        The graph's probabilities: softmax of logits / T; capsule lengths as they are, since a
        capsule's length already is the probability that its class is present.
        """
        scores, probabilities = self.session.run(None, {self.session.get_inputs()[0].name: images})
        return scores, probabilities

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        return self.outputs(images)[1]

    def likeness(self, scores: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
        """The OOD score per input, (N,); below `ood[1]` means unlike the training data."""
        return likeness(scores, probabilities, self.ood[0], self.temperature)


def load_classifier(path: Path, threads: int = 0) -> Classifier:
    """Check and load an exported model; refuse pointers, corrupt files and external data.

    onnxruntime parses and checks the model from its bytes, so it has no path to resolve an
    external-data file against and refuses any (tested); the `onnx` package is not imported,
    since importing it costs more than everything else `predict` does for one image.
    """
    import onnxruntime as ort

    fix = "Fix: run `dvc pull` (if a remote has it) or `dvc repro export`."
    if not path.is_file():
        raise PredictError(f"model {path} not found. {fix}")
    raw = path.read_bytes()
    if raw[:5] in (b"outs:", b"md5: ") or b"\nouts:" in raw[:200]:
        raise PredictError(f"{path} is a DVC pointer file, not the model. {fix}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 4  # a refused model gets our one line, not onnxruntime's log
    try:
        session = ort.InferenceSession(raw, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's InvalidProtobuf, Fail, InvalidGraph...
        raise PredictError(_refusal(path, str(exc), fix)) from None
    try:
        description = ModelDescription.from_props(session.get_modelmeta().custom_metadata_map)
    except MetadataError as exc:
        raise PredictError(f"{path} {exc}. {fix}") from None
    height, width, channels = description.shape
    ood = (description.ood["score"], float(description.ood["threshold"]))
    return Classifier(
        session,
        description.classes,
        height,
        width,
        channels,
        description.scores,
        float(description.temperature),
        ood,
        description.framing,
    )


def _refusal(path: Path, error: str, fix: str) -> str:
    """One line for a model onnxruntime would not load: external data named, else invalid."""
    if "model_path must not be empty" in error or "external data" in error.lower():
        return (
            f"{path} refers to external data files; refusing to read files a model names. "
            "Fix: use a self-contained model from `dvc repro export`."
        )
    reason = error.split(":", 3)[-1].strip().splitlines()[0][:120]
    return f"{path} is not a valid ONNX model ({reason}). {fix}"


def image_files(inputs: list[Path]) -> Iterator[Path]:
    """Files as given, and the image files inside folders (sorted, not recursive)."""
    for item in inputs:
        if item.is_dir():
            found = sorted(p for p in item.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise PredictError(f"{item}: no image files (.png, .jpg, .bmp, .webp, ...)")
            yield from found
        elif item.exists():
            yield item
        else:
            raise PredictError(f"{item}: no such file or folder")


def load_image(path: Path, model: Classifier, invert: str) -> Prepared:
    """Any image as the model's uint8 (H, W, C), fitted the way the training data were."""
    try:
        image = open_picture(path)
    except PictureError as exc:
        raise PredictError(str(exc)) from None
    grey = model.channels == 1
    if model.framing == "object":
        return prepare(image, model.height, model.width, grey, invert)
    return Prepared(fit(image, model.height, model.width, grey, model.framing), found=True)


@dataclass(frozen=True)
class Answer:
    top: list[tuple[str, float]]  # top-k (label, probability)
    score: float  # the OOD score; higher is more like the training data
    unsure: bool  # below the threshold, or nothing stood out from the background


def predict(
    paths: list[Path], model: Classifier, top_k: int, invert: str, batch_size: int
) -> Iterator[tuple[Path, Answer | str]]:
    """For each file: its answer (top-k, OOD score, unsure), or why it failed."""
    pending: list[tuple[Path, Prepared]] = []
    for path in paths:
        try:
            pending.append((path, load_image(path, model, invert)))
        except PredictError as exc:
            yield path, str(exc)
        if len(pending) == batch_size:
            yield from _classify(pending, model, top_k)
            pending = []
    yield from _classify(pending, model, top_k)


def _classify(pending, model: Classifier, top_k: int):
    if not pending:
        return
    scores, probabilities = model.outputs(np.stack([image.pixels for _, image in pending]))
    likeness = model.likeness(scores, probabilities)
    for (path, image), row, score in zip(pending, probabilities, likeness, strict=True):
        best = np.argsort(-row, kind="stable")[:top_k]
        top = [(model.classes[i], float(row[i])) for i in best]
        yield path, Answer(top, float(score), bool(score < model.ood[1] or not image.found))


def build_parser(model: Path | None = None) -> argparse.ArgumentParser:
    """The parser; `model` is --model's default (`convnets predict`: where export writes it)."""
    parser = argparse.ArgumentParser(
        prog="convnets predict", description="Classify image files with the exported model."
    )
    parser.add_argument("inputs", nargs="+", type=Path, help="image files or folders")
    parser.add_argument(
        "--model", type=Path, default=model, help="the exported model (default: %(default)s)"
    )
    parser.add_argument("--top-k", type=int, default=3, help="labels per image (default 3)")
    parser.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    parser.add_argument(
        "--invert",
        choices=("auto", "always", "never"),
        default="auto",
        help="invert grey images; auto: when the border is light (default). Built-in "
        "datasets' models only: a folder's model takes pictures as its folder had them",
    )
    parser.add_argument("--batch-size", type=int, default=256, help="images per model call")
    parser.add_argument(
        "--threads",
        type=_threads,
        default=AUTO,
        help="onnxruntime threads: auto (every core this process may use, as base.threads) or N",
    )
    return parser


def _threads(value: str) -> int | str:
    if value == AUTO:
        return value
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"must be auto or a whole number >= 1, not {value!r}")
    return int(value)


def main(argv: list[str] | None = None, model: Path | None = None) -> int:
    """Exit 0 when every file was classified, 1 when any failed (the rest still are).

    `model`: the model to use when --model is not given (cli.py passes the pipeline's).
    """
    parser = build_parser(model)
    args = parser.parse_args(argv)
    if args.model is None:
        parser.error("the following arguments are required: --model")
    try:
        if args.top_k < 1 or args.batch_size < 1:
            raise PredictError("--top-k and --batch-size must be at least 1")
        model = load_classifier(args.model, resolve_threads(args.threads))
        paths = list(image_files(args.inputs))
    except PredictError as exc:
        print(f"convnets predict: error: {exc}", file=sys.stderr)
        return 1
    failed = 0
    for path, result in predict(
        paths, model, min(args.top_k, len(model.classes)), args.invert, args.batch_size
    ):
        if isinstance(result, str):
            failed += 1
            print(f"convnets predict: error: {result}", file=sys.stderr)
        elif args.json:
            labels = [{"label": label, "probability": round(p, 6)} for label, p in result.top]
            row = {"file": str(path), "top_k": labels, "unsure": result.unsure}
            print(json.dumps(row | {"ood_score": round(result.score, 6)}))
        else:
            shown = [f"{label} ({p:.1%})" for label, p in result.top]
            print("\t".join([str(path), *shown, *([UNSURE] if result.unsure else [])]))
    return 1 if failed else 0
