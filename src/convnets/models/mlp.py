"""The lesson's multilayer perceptron: every pixel is an input, so it cannot share weights."""

from __future__ import annotations

from pydantic import Field
from torch import nn

from convnets.models.base import ImageClassifier
from convnets.models.registry import ModelOptions, register_model


class MLPOptions(ModelOptions):
    hidden: list[int] = Field(default=[512, 256], min_length=1)  # units per hidden layer
    dropout: float = Field(default=0.2, ge=0, lt=1)


@register_model("mlp", MLPOptions, "flatten, hidden layers with ReLU and dropout")
def build_mlp(in_channels: int, num_classes: int, image_size: int, options: MLPOptions):
    layers: list[nn.Module] = [nn.Flatten()]
    width = in_channels * image_size * image_size
    for units in options.hidden:
        layers += [nn.Linear(width, units), nn.ReLU(inplace=True), nn.Dropout(options.dropout)]
        width = units
    return ImageClassifier(nn.Sequential(*layers), nn.Linear(width, num_classes), in_channels)
