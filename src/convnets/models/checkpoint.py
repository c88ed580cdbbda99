"""Self-describing checkpoints: a file from which a later step rebuilds and uses the model alone.

Saved atomically; loaded only with `torch.load(weights_only=True)`, which refuses any pickled
Python object beyond tensors and plain containers, so a hostile file cannot run code.
"""

from __future__ import annotations

import json
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from convnets import io
from convnets.errors import ConvnetsError
from convnets.models.building import create_model

if TYPE_CHECKING:
    from convnets.data.prepared import PreparedData

FORMAT = "convnets-checkpoint/1"


@dataclass(frozen=True)
class Checkpoint:
    variant: str
    model_name: str
    options: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    classes: tuple[str, ...]
    input_shape: tuple[int, int, int]  # (C, H, W)
    dataset: str
    normalization: dict[str, list[float]]  # mean and std per channel, on the [0, 1] scale
    params: dict[str, Any]  # the params.yaml this model was trained with
    versions: dict[str, str]
    metrics: dict[str, Any]  # best epoch, its validation loss and accuracy, timing

    def build(self) -> nn.Module:
        """The model, with its weights, in eval mode."""
        channels, size, _ = self.input_shape
        model = create_model(self.model_name, channels, len(self.classes), size, self.options)
        model.load_state_dict(self.state_dict)
        return model.eval()


def save_checkpoint(path: Path, ckpt: Checkpoint) -> None:
    """Atomically, and the same bytes for the same content: pickle shares a string that is
    one object in two places, so the plain parts go through JSON, making each value its own
    object whatever process built it (a DDP rank gets some from rank 0 by broadcast)."""
    plain = {key: value for key, value in vars(ckpt).items() if key != "state_dict"}
    payload = {"format": FORMAT, **json.loads(json.dumps(plain)), "state_dict": ckpt.state_dict}
    with io.atomic_write(path) as handle:
        torch.save(payload, handle)


def load_checkpoint(path: Path, producer: str) -> Checkpoint:
    """Load safely; a missing, corrupt or hostile file names the stage to rerun."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ConvnetsError(f"{path} does not exist. Fix: run `dvc repro {producer}`.") from None
    except pickle.UnpicklingError as exc:
        raise ConvnetsError(
            f"{path} was refused: it holds Python objects that weights-only loading does not "
            f"allow ({str(exc).splitlines()[0][:120]}). It was not loaded. "
            f"Fix: run `dvc repro --force {producer}`."
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ConvnetsError(
            f"{path} is corrupt ({type(exc).__name__}). Fix: run `dvc repro --force {producer}`."
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ConvnetsError(
            f"{path} is not a {FORMAT} file. Fix: run `dvc repro --force {producer}`."
        )
    fields = {k: v for k, v in payload.items() if k != "format"}
    fields["classes"] = tuple(fields["classes"])
    fields["input_shape"] = tuple(fields["input_shape"])
    try:
        return Checkpoint(**fields)
    except TypeError as exc:
        raise ConvnetsError(
            f"{path} lacks fields ({exc}). Fix: run `dvc repro --force {producer}`."
        ) from None


def load_trained(path: Path, producer: str, data: PreparedData) -> Checkpoint:
    """A trained checkpoint, refused unless it was trained on data like `data`; errors name
    `producer`, the stage that wrote `path` (`train@<variant>`, or compare for its copy).

    Every stage that uses a trained model loads it through here, so none can pair a model with
    data of another shape, dataset or class list.
    """
    ckpt = load_checkpoint(path, producer)
    trained_on = (ckpt.dataset, ckpt.input_shape, ckpt.classes)
    if trained_on != (data.dataset, data.input_shape, data.classes):
        raise ConvnetsError(
            f"{path} was trained on {ckpt.dataset} {ckpt.input_shape}, but the data here are "
            f"{data.dataset} {data.input_shape}. Fix: run `dvc repro {producer}` for "
            f"{data.dataset}."
        )
    return ckpt
