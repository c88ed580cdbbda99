"""Every model's options: one strict, frozen schema per architecture, without torch.

`registry.MODELS` names each schema with its model, and `config` validates
`variants.<name>.options` against it before any stage works, so checking params.yaml never
imports a model; each model's `build` receives its validated options.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator


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
