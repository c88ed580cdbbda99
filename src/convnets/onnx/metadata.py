"""The metadata contract of an exported model: what the file says about itself.

Export writes these keys into the ONNX file's `metadata_props`; `convnets predict`, the tests and
any onnxruntime client read them. This module is the one place that names a key, and it imports
neither torch nor onnx (numpy only, for the out-of-distribution score every client must compute
the same way), so `predict` stays light.

Values are strings: plain text for names, JSON for lists and mappings.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

INPUT, OUTPUT = "pixels", "logits"  # graph input (uint8 NHWC) and output names
PROBABILITIES = "probabilities"  # second output: softmax(logits / temperature), or capsule lengths
SCORE_KINDS = ("logits", "capsule_lengths")  # logits: softmax gives probabilities
# How "like the training data" an input is, from the outputs; higher is more alike.
# max_probability: the top calibrated probability (or capsule length); energy: T * logsumexp(z / T)
OOD_SCORES = ("max_probability", "energy")
FRAMINGS = ("object", "pad", "crop", "stretch")  # photos.py fits a picture each of these ways
PREFIX = "convnets."
# stored as plain strings, not JSON
_TEXT = ("dataset", "variant", "scores", "params_hash", "framing")


class MetadataError(ValueError):
    """An exported file's metadata is missing or malformed; the message names the key."""


@dataclass(frozen=True)
class ModelDescription:
    """Everything needed to use an exported model: classes, input, and where it came from."""

    classes: tuple[str, ...]
    input: dict[str, Any]  # {"layout": "NHWC", "dtype": "uint8", "shape": [H, W, C]}
    normalization: dict[str, list[float]] = field(default_factory=dict)  # mean, std per channel
    dataset: str = ""
    variant: str = ""
    model: dict[str, Any] = field(default_factory=dict)  # {"name": ..., "options": {...}}
    scores: str = "logits"  # one of SCORE_KINDS; files exported before capsnet say nothing
    params_hash: str = ""
    temperature: float = 1.0  # fitted on the validation split; folded into PROBABILITIES
    ood: dict[str, Any] = field(default_factory=dict)  # {"score": OOD_SCORES, "threshold": x}
    # How a picture is brought to the input size (photos.FRAMINGS): object (find the object,
    # crop and centre it, as the built-in datasets were made), or a folder dataset's pad, crop
    # or stretch, which `ingest` applied to every training picture.
    framing: str = "object"

    @property
    def shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of one input image."""
        height, width, channels = self.input["shape"]
        return height, width, channels

    def to_props(self) -> dict[str, str]:
        """The `metadata_props` entries, key by key."""
        values = asdict(self) | {"classes": list(self.classes)}
        return {
            PREFIX + name: value if name in _TEXT else json.dumps(value)
            for name, value in values.items()
        }

    @classmethod
    def from_model(cls, proto: Any) -> ModelDescription:
        """The description an ONNX model carries: `proto` is an onnx ModelProto, read here by
        its `metadata_props` alone (so this module needs no onnx import)."""
        return cls.from_props({p.key: p.value for p in proto.metadata_props})

    @classmethod
    def from_props(cls, props: dict[str, str]) -> ModelDescription:
        """Read the description back; a missing or malformed key raises MetadataError."""
        values: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            raw = props.get(PREFIX + name)
            if raw is not None:
                values[name] = raw if name in _TEXT else _json(name, raw)
        required = ("classes", "input", "temperature", "ood")
        missing = [PREFIX + n for n in required if n not in values]
        if missing:
            raise MetadataError(f"lacks convnets metadata ({', '.join(missing)})")
        description = cls(**values | {"classes": tuple(values["classes"])})
        if description.scores not in SCORE_KINDS:
            raise MetadataError(f"unknown {PREFIX}scores {description.scores!r}")
        if description.framing not in FRAMINGS:
            raise MetadataError(f"unknown {PREFIX}framing {description.framing!r}")
        _check_reliability(description)
        return description


def likeness(logits: np.ndarray, probabilities: np.ndarray, kind: str, temperature: float):
    """The out-of-distribution score per input, (N,): higher is more like the training data.

    max_probability: the top of the PROBABILITIES output; energy: T * logsumexp(logits / T), the
    negative free energy of Liu et al. 2020. An input scoring below `ood["threshold"]` is unsure.
    """
    if kind == "max_probability":
        return np.asarray(probabilities, dtype=np.float64).max(axis=1)
    z = np.asarray(logits, dtype=np.float64) / temperature
    top = z.max(axis=1)
    return temperature * (top + np.log(np.exp(z - top[:, None]).sum(axis=1)))


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_reliability(description: ModelDescription) -> None:
    """The temperature and the out-of-distribution threshold: present, numeric and sensible."""
    t = description.temperature
    if not _finite(t) or t <= 0:
        raise MetadataError(f"has a corrupt {PREFIX}temperature {t!r} (a number > 0 expected)")
    ood = description.ood
    if not isinstance(ood, dict) or ood.get("score") not in OOD_SCORES:
        raise MetadataError(
            f"has a corrupt {PREFIX}ood {ood!r} (expected a score among {list(OOD_SCORES)})"
        )
    if not _finite(ood.get("threshold")):
        raise MetadataError(f"has a corrupt {PREFIX}ood threshold {ood.get('threshold')!r}")
    if description.scores == "capsule_lengths" and (t != 1 or ood["score"] != "max_probability"):
        raise MetadataError(
            f"says capsule lengths with {PREFIX}temperature {t} and {PREFIX}ood score "
            f"{ood['score']!r}; capsule lengths take temperature 1 and max_probability"
        )


def _json(name: str, raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        raise MetadataError(f"{PREFIX}{name} is not valid JSON") from None


def params_hash(params: dict[str, Any]) -> str:
    """A short, stable fingerprint of the params a model was trained with."""
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
