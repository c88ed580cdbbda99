"""ResNet-style: basic residual blocks (He et al., 2016), sized for 28x28 and 32x32 images.

A stage's first block halves the resolution and changes the width, so its shortcut is a
projection (every second pixel, then a 1x1 conv: the function of a 1x1 conv with stride 2); every
other block adds its input unchanged (identity).
"""

from __future__ import annotations

import torch
from torch import nn

from convnets.models.base import ImageClassifier, conv_bn_relu, feature_shape
from convnets.models.options import ResNetOptions


class Subsample(nn.Module):
    """Every `stride`-th pixel of each row and column: what a 1x1 convolution of that stride reads.

    Sampling first, then a 1x1 convolution of stride 1, is the same function as the strided 1x1
    convolution, without its kernel: with few channels (2 to 7) in channels_last, that kernel's
    backward corrupted the heap (the process died) under torch 2.14.1 on an AVX2-only AMD EPYC.
    tests/test_models.py trains such a ResNet in a child process.
    """

    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, :: self.stride, :: self.stride]  # (N, C, H/s, W/s)


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                Subsample(stride), nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


def build(in_channels: int, num_classes: int, image_size: int, options: ResNetOptions):
    layers: list[nn.Module] = conv_bn_relu(in_channels, options.widths[0])
    c_in = options.widths[0]
    for stage, width in enumerate(options.widths):
        for block in range(options.blocks_per_stage):
            stride = 2 if stage and block == 0 else 1
            layers.append(BasicBlock(c_in, width, stride))
            c_in = width
    trunk = nn.Sequential(*layers)
    feature_shape(trunk, in_channels, image_size, "resnet")
    features = nn.Sequential(
        trunk, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(options.dropout)
    )
    return ImageClassifier(features, nn.Linear(c_in, num_classes), in_channels)
