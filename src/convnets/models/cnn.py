"""The lesson's small CNN: conv + pool blocks, then fully connected layers.

Stride and padding are options so that their effect on the output size (and on accuracy) can be
tried with `dvc exp run -S variants.cnn.options.stride=2`.

Each block is conv -> max-pool -> BatchNorm -> ReLU. Pooling first is the same function as
pooling last for conv -> ReLU (max commutes with a monotonic function), and it runs BatchNorm
and ReLU on a quarter of the positions, so a step does less work than conv -> BN -> ReLU -> pool.
"""

from __future__ import annotations

from torch import nn

from convnets.models.base import ImageClassifier, feature_shape
from convnets.models.options import CNNOptions


def build(in_channels: int, num_classes: int, image_size: int, options: CNNOptions):
    blocks: list[nn.Module] = []
    c_in = in_channels
    for c_out in options.channels:
        conv = nn.Conv2d(
            c_in,
            c_out,
            options.kernel_size,
            options.stride,
            options.padding,
            bias=not options.batch_norm,
        )
        blocks.append(conv)
        if options.pool > 1:
            blocks.append(nn.MaxPool2d(options.pool))
        if options.batch_norm:
            blocks.append(nn.BatchNorm2d(c_out))
        blocks.append(nn.ReLU(inplace=True))
        c_in = c_out
    trunk = nn.Sequential(*blocks)
    flat = feature_shape(trunk, in_channels, image_size, "cnn").numel()
    features = nn.Sequential(
        trunk,
        nn.Flatten(),
        nn.Linear(flat, options.hidden),
        nn.ReLU(inplace=True),
        nn.Dropout(options.dropout),
    )
    return ImageClassifier(features, nn.Linear(options.hidden, num_classes), in_channels)
