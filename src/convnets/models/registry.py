"""The model registry: a name maps to an options schema and a builder (after timm).

Every builder has one signature, `(in_channels, num_classes, image_size, options)`, and returns
an `ImageClassifier`; layer sizes derive from the input shape, never from constants.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from torch import nn

from convnets.errors import ConvnetsError


class ModelOptions(BaseModel):
    """Per-model options from params.yaml (`variants.<name>.options`): strict and frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


Builder = Callable[[int, int, int, Any], nn.Module]


@dataclass(frozen=True)
class ModelSpec:
    options: type[ModelOptions]
    build: Builder
    summary: str


MODELS: dict[str, ModelSpec] = {}


def register_model(name: str, options: type[ModelOptions], summary: str):
    """Add a builder to the registry under `name`."""

    def register(build: Builder) -> Builder:
        MODELS[name] = ModelSpec(options, build, summary)
        return build

    return register


def model_names() -> list[str]:
    return sorted(MODELS)


def get_spec(name: str) -> ModelSpec:
    from convnets import models  # noqa: F401  (importing the package registers every model)

    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(model_names())
        raise ConvnetsError(f"unknown model {name!r}; known models: {known}") from None


def validate_options(name: str, options: dict[str, Any], where: str = "options") -> ModelOptions:
    """Check `options` against the model's schema; an error names the key and what is allowed."""
    spec = get_spec(name)
    try:
        return spec.options.model_validate(options)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        allowed = ", ".join(spec.options.model_fields)
        raise ConvnetsError(
            f"{where}.{key}: {first['msg']} (got {first.get('input')!r}); "
            f"options of {name!r} are: {allowed}"
        ) from None


def create_model(
    name: str,
    in_channels: int,
    num_classes: int,
    image_size: int,
    options: dict[str, Any] | None = None,
) -> nn.Module:
    """Build a registered model for inputs of shape (in_channels, image_size, image_size)."""
    spec = get_spec(name)
    checked = validate_options(name, options or {})
    return spec.build(in_channels, num_classes, image_size, checked)
