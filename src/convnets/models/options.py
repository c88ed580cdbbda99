"""Every model's options schema and one-line summary: the model registry, without torch.

`config` validates `variants.<name>.options` against these before any stage works, so checking
params.yaml never imports a model. Each name maps to the module `convnets.models.<name>`, whose
`build(in_channels, num_classes, image_size, options)` makes the network (see `registry`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from convnets.errors import ConvnetsError


class ModelOptions(BaseModel):
    """Per-model options from params.yaml (`variants.<name>.options`): strict and frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class MLPOptions(ModelOptions):
    hidden: list[int] = Field(default=[512, 256], min_length=1)  # units per hidden layer
    dropout: float = Field(default=0.2, ge=0, lt=1)


class CNNOptions(ModelOptions):
    channels: list[int] = Field(default=[32, 64], min_length=1)  # output channels per block
    kernel_size: int = Field(default=3, ge=1, le=11)
    stride: int = Field(default=1, ge=1, le=4)
    padding: int = Field(default=1, ge=0, le=5)
    pool: int = Field(default=2, ge=1, le=4)  # max-pool window and stride after each conv; 1 = none
    batch_norm: bool = True
    hidden: int = Field(default=128, ge=1)  # units of the fully connected layer
    dropout: float = Field(default=0.3, ge=0, lt=1)


ConvCount = Annotated[int, Field(ge=1, le=4)]


class VGGOptions(ModelOptions):
    widths: list[int] = Field(default=[32, 64, 128], min_length=1)  # channels per stage
    # 3x3 convs in every stage, or one count per stage: a 28x28 stage costs 4x a 14x14 one,
    # so a single conv there ([1, 2, 2]) saves time on CPUs for little accuracy
    convs_per_stage: ConvCount | list[ConvCount] = 2
    dropout: float = Field(default=0.2, ge=0, lt=1)
    # first conv = frozen patch-whitening filters of the training images (models/whitening.py)
    whiten_stem: bool = False

    @model_validator(mode="after")
    def _one_count_per_stage(self) -> VGGOptions:
        if isinstance(self.convs_per_stage, list) and len(self.convs_per_stage) != len(self.widths):
            raise ValueError(
                f"convs_per_stage lists {len(self.convs_per_stage)} counts for "
                f"{len(self.widths)} widths; give one count per stage, or a single number"
            )
        return self

    def stage_convs(self) -> list[int]:
        """How many convs each stage has."""
        if isinstance(self.convs_per_stage, int):
            return [self.convs_per_stage] * len(self.widths)
        return list(self.convs_per_stage)


class ResNetOptions(ModelOptions):
    widths: list[int] = Field(default=[32, 64, 128], min_length=1)  # channels per stage
    blocks_per_stage: int = Field(default=2, ge=1, le=8)
    dropout: float = Field(default=0.0, ge=0, lt=1)


class CapsNetOptions(ModelOptions):
    stem_channels: list[int] = Field(default=[32, 64, 128], min_length=1)  # 3x3; 2nd on: stride 2
    primary_types: int = Field(default=16, ge=1, le=64)  # primary capsules per grid position
    primary_dim: int = Field(default=8, ge=2, le=32)  # dimensions of a primary capsule
    class_dim: int = Field(default=16, ge=2, le=64)  # dimensions of a class capsule
    routing_iterations: int = Field(default=3, ge=1, le=10)
    decoder: bool = True  # reconstruct the image from the class capsule (a regularizer)
    decoder_hidden: list[int] = Field(default=[512, 1024], min_length=1)
    reconstruction_weight: float = Field(default=0.0005, ge=0, le=1)  # paper: 0.0005 x SSE


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
