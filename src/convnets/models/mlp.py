"""The lesson's multilayer perceptron: every pixel is an input, so it cannot share weights."""

from __future__ import annotations

from torch import nn

from convnets.models.base import ImageClassifier
from convnets.models.options import MLPOptions


def build(in_channels: int, num_classes: int, image_size: int, options: MLPOptions):
    layers: list[nn.Module] = [nn.Flatten()]
    width = in_channels * image_size * image_size
    for units in options.hidden:
        layers += [nn.Linear(width, units), nn.ReLU(inplace=True), nn.Dropout(options.dropout)]
        width = units
    return ImageClassifier(nn.Sequential(*layers), nn.Linear(width, num_classes), in_channels)
