"""The model registry: every model's name, options schema and one-line summary, without torch.

`config` derives the model names it allows from `MODELS` and validates `variants.<name>.options`
here, so checking params.yaml never imports a model. Each name maps to the module
`convnets.models.<name>`, whose `build(in_channels, num_classes, image_size, options)` makes the
network; `building.create_model` imports that module only when the model is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from convnets.errors import ConvnetsError
from convnets.models.options import (
    CapsNetOptions,
    CNNOptions,
    MLPOptions,
    ModelOptions,
    ResNetOptions,
    VGGOptions,
)


@dataclass(frozen=True)
class ModelInfo:
    options: type[ModelOptions]
    summary: str


MODELS: dict[str, ModelInfo] = {
    "mlp": ModelInfo(MLPOptions, "flatten, hidden layers with ReLU and dropout"),
    "cnn": ModelInfo(CNNOptions, "conv + pool blocks, then fully connected"),
    "vgg": ModelInfo(VGGOptions, "3x3 conv + BatchNorm stacks, pooling between stages"),
    "resnet": ModelInfo(ResNetOptions, "basic residual blocks, projection shortcuts"),
    "capsnet": ModelInfo(CapsNetOptions, "capsules with routing-by-agreement, margin loss"),
}


def model_names() -> list[str]:
    return sorted(MODELS)


def model_info(name: str) -> ModelInfo:
    """The registered model called `name`; an unknown name lists the known ones."""
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(model_names())
        raise ConvnetsError(f"unknown model {name!r}; known models: {known}") from None


def validate_options(name: str, options: dict[str, Any], where: str = "options") -> ModelOptions:
    """Check `options` against the model's schema; an error names the key and what is allowed."""
    schema = model_info(name).options
    try:
        return schema.model_validate(options)
    except ValidationError as exc:
        # a union (one count or a list) fails once per branch: the deepest error is the precise one
        first = max(exc.errors(), key=lambda e: len(e["loc"]))
        key = ".".join(str(p) for p in first["loc"] if not str(p).startswith(("list[", "constr")))
        allowed = ", ".join(schema.model_fields)
        raise ConvnetsError(
            f"{where}{'.' + key if key else ''}: {first['msg']} (got {first.get('input')!r}); "
            f"options of {name!r} are: {allowed}"
        ) from None
