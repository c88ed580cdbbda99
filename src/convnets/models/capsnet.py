"""A capsule network with routing-by-agreement (Sabour, Frosst & Hinton, 2017).

A capsule is a vector whose length is the probability that an entity is present and whose
direction describes it. Primary capsules come from a convolution; each predicts every class
capsule through its own matrix, and routing-by-agreement sends its vote to the class capsules
that agree with it. The class capsules' lengths are the scores, in [0, 1): they are not logits,
so the loss is the paper's margin loss, and an optional decoder that rebuilds the image from the
(masked) class capsule regularizes them.

Sized for a 2-core CPU: the paper's stem (two 9x9 convolutions of 256 channels, 1,152 primary
capsules of 8 dimensions) becomes three 3x3 convolutions with stride 2 after the first, and a
3x3 grid of 16 primary capsule types (144 capsules). A training step of 128 images took 61 ms
against the lesson CNN's 18 ms (2 shared cores, bf16); two stem convolutions and a 6x6 grid of
8 types (288 capsules) took 85 ms. Routing is unrolled for a fixed number of iterations, so the
graph exports to ONNX, and runs in float32 under bf16 autocast (squash divides by small norms).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from convnets.models.base import ImageClassifier, conv_bn_relu, feature_shape
from convnets.models.options import CapsNetOptions

# The paper's margin loss: a present class should be longer than M_PLUS, an absent one shorter
# than M_MINUS; absent classes weigh DOWN_WEIGHT so that early training does not shrink them all.
M_PLUS, M_MINUS, DOWN_WEIGHT = 0.9, 0.1, 0.5


def squash(s: torch.Tensor) -> torch.Tensor:
    """Shrink vectors along the last axis to length |s|^2 / (1 + |s|^2) in [0, 1), same direction.

    In float32: lengths round to exactly 1 only for |s| above about 4e3.
    """
    squared = s.pow(2).sum(dim=-1, keepdim=True)
    return s * (squared / (1.0 + squared)) * torch.rsqrt(squared + 1e-12)


class PrimaryCapsules(nn.Module):
    """A convolution whose channels at each grid position are capsules of `dim` (B, I, dim).

    `count` (I, grid positions x capsule types) is fixed at build time: reshapes to constant
    shapes keep the ONNX graph's shapes inferable, which int8 quantization needs.
    """

    def __init__(self, conv: nn.Conv2d, count: int, dim: int):
        super().__init__()
        self.conv = conv
        self.count, self.dim = count, dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        grid = self.conv(x).permute(0, 2, 3, 1)  # (B, G, G, types * dim)
        return squash(grid.reshape(-1, self.count, self.dim).float())  # (B, I, dim)


class ClassCapsules(nn.Module):
    """Each primary capsule i votes u_hat_ij = W_ij u_i for class capsule j; routing weighs votes.

    Routing-by-agreement: coupling c_ij = softmax_j(b_ij), v_j = squash(sum_i c_ij u_hat_ij),
    then b_ij += u_hat_ij . v_j; the first iteration's couplings are uniform (b = 0).
    """

    def __init__(self, inputs: int, in_dim: int, classes: int, dim: int, iterations: int):
        super().__init__()
        # Scaled so that a class capsule's input s (a sum of `inputs` votes over `classes`) starts
        # near unit length, where squash is neither flat nor saturated.
        std = classes / (inputs * in_dim) ** 0.5
        self.weight = nn.Parameter(torch.randn(inputs, in_dim, classes * dim) * std)
        self.inputs, self.classes, self.dim, self.iterations = inputs, classes, dim, iterations

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        # In float32 (autocast would run the matmuls in bf16); agreements and weighted sums as
        # batched matmuls rather than a broadcast multiply and sum (no (B, I, J, D) temporary).
        with torch.autocast(u.device.type, enabled=False):
            votes = torch.matmul(u.float().transpose(0, 1), self.weight)  # (I, B, J * D)
            votes = votes.reshape(self.inputs, -1, self.classes, self.dim)  # (I, B, J, D)
            votes = votes.permute(1, 2, 0, 3).contiguous()  # (B, J, I, D)
            v = squash(votes.sum(dim=2) / self.classes)  # uniform couplings 1/J: (B, J, D)
            logits = None
            for _ in range(self.iterations - 1):
                agreement = torch.matmul(votes, v.unsqueeze(-1))  # (B, J, I, 1)
                logits = agreement if logits is None else logits + agreement
                coupling = logits.softmax(dim=1).transpose(2, 3)  # (B, J, 1, I), sums to 1 over J
                v = squash(torch.matmul(coupling, votes).squeeze(2))  # (B, J, D)
        return v


class CapsuleLengths(nn.Module):
    """Flattened class capsules (N, J * D) -> their lengths (N, J), the class scores."""

    def __init__(self, classes: int, dim: int):
        super().__init__()
        self.classes, self.dim = classes, dim

    def forward(self, flat: torch.Tensor) -> torch.Tensor:
        capsules = flat.reshape(-1, self.classes, self.dim).float()
        return torch.sqrt(capsules.pow(2).sum(dim=-1) + 1e-12)  # (N, J)


class CapsNet(ImageClassifier):
    """`features` ends in the flattened class capsules, `head` measures their lengths.

    `decoder` is None without reconstruction; otherwise `decode` rebuilds images in [0, 1] from
    one class capsule of `capsules` (the figures of figures/capsules.py use both).
    """

    score_kind = "capsule_lengths"

    def __init__(self, features, head, in_channels, decoder, image_shape, weight):
        super().__init__(features, head, in_channels)
        self.decoder = decoder
        self.image_shape = image_shape  # (C, H, W)
        self.reconstruction_weight = weight

    def capsules(self, x: torch.Tensor) -> torch.Tensor:
        """Class capsules (N, J, D) for images x in [0, 1] (N, C, H, W)."""
        flat = self.features((x - self.mean) / self.std)
        return flat.reshape(-1, self.head.classes, self.head.dim)

    def decode(self, capsules: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Images (N, C, H, W) in [0, 1] from capsules (N, J, D), all but class `labels` zeroed."""
        mask = F.one_hot(labels, self.head.classes).unsqueeze(-1).to(capsules.dtype)
        return self.decoder((capsules * mask).flatten(1)).float().view(-1, *self.image_shape)

    def objective(self, x, labels, label_smoothing):
        """Margin loss, plus the sum of squared errors of the image rebuilt from the TRUE capsule.

        The capsules get the paper's gradient, `reconstruction_weight` x that error's; the
        decoder learns from the unweighted error. With SGD, 0.0005 x the error for both left the
        decoder at the mean image after 10 epochs (the paper used Adam, which is blind to the
        scale); decoupled, 141 steps on 6,000 images beat the mean image (MSE 0.040 vs 0.089) at
        equal accuracy. Label smoothing does not apply: the margins keep targets off 0 and 1.
        """
        capsules = self.capsules(x)  # (B, J, D)
        scores = self.head(capsules.flatten(1))
        loss = margin_loss(scores, labels)
        if self.decoder is not None:
            guided = scale_gradient(capsules, self.reconstruction_weight)
            error = (self.decode(guided, labels) - x.float()).pow(2).flatten(1).sum(dim=1)
            loss = loss + error.mean()
        return loss, scores

    def score_loss(self, scores, labels):
        return margin_loss(scores, labels)


def scale_gradient(x: torch.Tensor, factor: float) -> torch.Tensor:
    """`x` going forward; its gradient times `factor` going back."""
    return x * factor + x.detach() * (1 - factor)


def margin_loss(lengths: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The paper's loss, summed over classes and averaged over images; lengths (N, J)."""
    present = F.one_hot(labels, lengths.shape[1]).float()
    lengths = lengths.float()
    too_short = present * F.relu(M_PLUS - lengths).pow(2)
    too_long = (1 - present) * F.relu(lengths - M_MINUS).pow(2)
    return (too_short + DOWN_WEIGHT * too_long).sum(dim=1).mean()


def build(in_channels: int, num_classes: int, image_size: int, options: CapsNetOptions):
    stem: list[nn.Module] = []
    c_in = in_channels
    for index, c_out in enumerate(options.stem_channels):
        stem += conv_bn_relu(c_in, c_out, stride=2 if index else 1)
        c_in = c_out
    conv = nn.Conv2d(c_in, options.primary_types * options.primary_dim, 3, stride=2)
    _, grid, _ = feature_shape(nn.Sequential(*stem, conv), in_channels, image_size, "capsnet")
    count = grid * grid * options.primary_types  # I, the primary capsules
    primary = nn.Sequential(*stem, PrimaryCapsules(conv, count, options.primary_dim))
    routing = ClassCapsules(
        count,
        options.primary_dim,
        num_classes,
        options.class_dim,
        options.routing_iterations,
    )
    features = nn.Sequential(primary, routing, nn.Flatten())  # (N, J * D)
    image_shape = (in_channels, image_size, image_size)
    decoder = None
    if options.decoder:
        decoder = _decoder(num_classes * options.class_dim, options.decoder_hidden, image_shape)
    return CapsNet(
        features,
        CapsuleLengths(num_classes, options.class_dim),
        in_channels,
        decoder,
        image_shape,
        options.reconstruction_weight,
    )


def _decoder(width: int, hidden: list[int], image_shape: tuple[int, int, int]) -> nn.Module:
    """The paper's fully connected decoder: ReLU layers, then one sigmoid unit per pixel."""
    layers: list[nn.Module] = []
    for units in hidden:
        layers += [nn.Linear(width, units), nn.ReLU(inplace=True)]
        width = units
    pixels = image_shape[0] * image_shape[1] * image_shape[2]
    return nn.Sequential(*layers, nn.Linear(width, pixels), nn.Sigmoid())
