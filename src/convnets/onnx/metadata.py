"""The metadata contract of an exported model: what the file says about itself.

Export writes these keys into the ONNX file's `metadata_props`; `convnets predict`, the tests and
any onnxruntime client read them. This module is the one place that names a key, and it imports
neither torch nor onnx, so `predict` stays light.

Values are strings: plain text for names, JSON for lists and mappings.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

INPUT, OUTPUT = "pixels", "logits"  # graph input (uint8 NHWC) and output names
SCORE_KINDS = ("logits", "capsule_lengths")  # logits: softmax gives probabilities
PREFIX = "convnets."
_TEXT = ("dataset", "variant", "scores", "params_hash")  # stored as plain strings, not JSON


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
    def from_props(cls, props: dict[str, str]) -> ModelDescription:
        """Read the description back; a missing or malformed key raises MetadataError."""
        values: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            raw = props.get(PREFIX + name)
            if raw is not None:
                values[name] = raw if name in _TEXT else _json(name, raw)
        missing = [PREFIX + n for n in ("classes", "input") if n not in values]
        if missing:
            raise MetadataError(f"lacks convnets metadata ({', '.join(missing)})")
        description = cls(**values | {"classes": tuple(values["classes"])})
        if description.scores not in SCORE_KINDS:
            raise MetadataError(f"unknown {PREFIX}scores {description.scores!r}")
        return description


def _json(name: str, raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        raise MetadataError(f"{PREFIX}{name} is not valid JSON") from None


def params_hash(params: dict[str, Any]) -> str:
    """A short, stable fingerprint of the params a model was trained with."""
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
