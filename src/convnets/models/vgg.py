"""VGG-style: stages of 3x3 conv + BatchNorm + ReLU, max-pooling between stages.

Stacked 3x3 convolutions see as far as one large kernel with fewer weights (Simonyan &
Zisserman, 2014). Global average pooling replaces VGG's huge fully connected layers, which
suits 28x28 and 32x32 inputs.
"""

from __future__ import annotations

from torch import nn

from convnets.models.base import ImageClassifier, conv_bn_relu, feature_shape
from convnets.models.options import VGGOptions
from convnets.models.whitening import PatchWhitening


def build(in_channels: int, num_classes: int, image_size: int, options: VGGOptions):
    layers: list[nn.Module] = []
    c_in = in_channels
    for stage, (width, convs) in enumerate(zip(options.widths, options.stage_convs(), strict=True)):
        if stage:
            layers.append(nn.MaxPool2d(2))
        for _ in range(convs):
            block = conv_bn_relu(c_in, width)
            if options.whiten_stem and not layers:  # the first conv: fitted from the data
                block[0] = PatchWhitening(c_in, width)
            layers += block
            c_in = width
    trunk = nn.Sequential(*layers)
    feature_shape(trunk, in_channels, image_size, "vgg")  # fails clearly if too many stages
    features = nn.Sequential(
        trunk, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(options.dropout)
    )
    return ImageClassifier(features, nn.Linear(c_in, num_classes), in_channels)
