"""`convnets predict IMAGE_OR_DIR...`: classify image files with the exported ONNX model.

Imports onnxruntime, numpy and Pillow, plus `onnx` to inspect a model before it is loaded (it
is protobuf and numpy, no torch), and the metadata contract (`onnx/metadata.py`, plain Python):
never torch or training code, so it starts fast. The model
describes itself (classes, input shape, layout); it takes raw uint8 pixels and normalizes
inside the graph.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from convnets.onnx.metadata import MetadataError, ModelDescription
from convnets.threads import AUTO, resolve_threads

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

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """Per-class probabilities for uint8 images (N, H, W, C).

        Softmax of logits; capsule lengths as they are, since a capsule's length already is the
        probability that its class is present (they need not sum to 1).
        """
        scores = self.session.run(None, {self.session.get_inputs()[0].name: images})[0]
        if self.scores == "capsule_lengths":
            return scores
        shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)


def load_classifier(path: Path, threads: int = 0) -> Classifier:
    """Check and load an exported model; refuse pointers, corrupt files and external data."""
    import onnx
    import onnxruntime as ort

    fix = "Fix: run `dvc pull` (if a remote has it) or `dvc repro export`."
    if not path.is_file():
        raise PredictError(f"model {path} not found. {fix}")
    raw = path.read_bytes()
    if raw[:5] in (b"outs:", b"md5: ") or b"\nouts:" in raw[:200]:
        raise PredictError(f"{path} is a DVC pointer file, not the model. {fix}")
    invalid = f"{path} is not a valid ONNX model"
    try:
        proto = onnx.load_from_string(raw)  # parses only: reads no file the model names
    except Exception as exc:  # protobuf's DecodeError and friends
        raise PredictError(f"{invalid} ({type(exc).__name__}). {fix}") from None
    external = [t.name for t in _all_tensors(proto) if t.data_location == onnx.TensorProto.EXTERNAL]
    if external:
        raise PredictError(
            f"{path} refers to external data files (tensor {external[0]!r}); refusing to read "
            "files a model names. Fix: use a self-contained model from `dvc repro export`."
        )
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as exc:
        raise PredictError(f"{invalid} ({str(exc).splitlines()[0][:120]}). {fix}") from None
    try:
        description = ModelDescription.from_props({p.key: p.value for p in proto.metadata_props})
    except MetadataError as exc:
        raise PredictError(f"{path} {exc}. {fix}") from None
    height, width, channels = description.shape
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(raw, options, providers=["CPUExecutionProvider"])
    return Classifier(session, description.classes, height, width, channels, description.scores)


def _all_tensors(proto) -> Iterator:
    """Initializers and attribute tensors of the graph and of every subgraph."""
    graphs = [proto.graph]
    while graphs:
        graph = graphs.pop()
        yield from graph.initializer
        for node in graph.node:
            for attribute in node.attribute:
                if attribute.HasField("t"):
                    yield attribute.t
                yield from attribute.tensors
                if attribute.HasField("g"):
                    graphs.append(attribute.g)
                graphs.extend(attribute.graphs)


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


def load_image(path: Path, model: Classifier, invert: str) -> np.ndarray:
    """Any image as the model's uint8 (H, W, C): its channels, aspect kept and padded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                opened.load()
                image = _to_model_mode(opened, model.channels == 1)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PredictError(f"{path}: refused as a decompression bomb ({exc})") from None
    except UnidentifiedImageError:
        raise PredictError(
            f"{path}: not an image Pillow can read (empty or another format)"
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise PredictError(f"{path}: damaged image ({exc})") from None
    grey = model.channels == 1
    if invert == "always" or (invert == "auto" and grey and _light_background(image)):
        image = ImageOps.invert(image)  # MNIST-style data: a light object on black
    if image.size != (model.width, model.height):
        image = ImageOps.pad(image, (model.width, model.height), color=0)
    array = np.asarray(image, dtype=np.uint8)
    return array[..., None] if grey else array


def _to_model_mode(image: Image.Image, grey: bool) -> Image.Image:
    """L or RGB; transparent pixels over black (grey data) or white (colour photos)."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", image.size, (0, 0, 0) if grey else (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    return image.convert("L" if grey else "RGB")


def _light_background(image: Image.Image) -> bool:
    """A border brighter than mid-grey means a dark object on a light background."""
    pixels = np.asarray(image, dtype=np.float32)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    return float(border.mean()) > 127.5


def predict(
    paths: list[Path], model: Classifier, top_k: int, invert: str, batch_size: int
) -> Iterator[tuple[Path, list[tuple[str, float]] | str]]:
    """For each file: its top-k (label, probability) pairs, or why it failed."""
    pending: list[tuple[Path, np.ndarray]] = []
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
    probabilities = model.probabilities(np.stack([array for _, array in pending]))
    for (path, _), row in zip(pending, probabilities, strict=True):
        best = np.argsort(-row, kind="stable")[:top_k]
        yield path, [(model.classes[i], float(row[i])) for i in best]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="convnets predict", description="Classify image files with the exported model."
    )
    parser.add_argument("inputs", nargs="+", type=Path, help="image files or folders")
    parser.add_argument("--model", type=Path, default=Path("models/best.onnx"))
    parser.add_argument("--top-k", type=int, default=3, help="labels per image (default 3)")
    parser.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    parser.add_argument(
        "--invert",
        choices=("auto", "always", "never"),
        default="auto",
        help="invert grey images; auto: when the border is light (default)",
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


def main(argv: list[str] | None = None) -> int:
    """Exit 0 when every file was classified, 1 when any failed (the rest still are)."""
    args = build_parser().parse_args(argv)
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
            labels = [{"label": label, "probability": round(p, 6)} for label, p in result]
            print(json.dumps({"file": str(path), "top_k": labels}))
        else:
            print("\t".join([str(path), *(f"{label} ({p:.1%})" for label, p in result)]))
    return 1 if failed else 0
