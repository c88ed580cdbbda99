"""Do the explanations depend on the model? The cascading model-parameter randomization test of
Adebayo et al. (NeurIPS 2018, "Sanity Checks for Saliency Maps", section 3.1).

Re-initialize the network's weighted layers one at a time from the output down, cumulatively,
recompute each method's maps for the same images and targets, and measure how much of the
original map's ranking of pixels survives (Spearman rank correlation, mean over images). A method
whose maps explain the model must lose its ranking once the model's weights are gone; Adebayo et
al. show edge-detector-like methods (e.g. guided backpropagation) that keep drawing the same
picture for a random network, and give the rank correlation as the measure but no threshold.
Ours: a method passes when the mean rank correlation with every layer randomized is below
`PASS_BELOW`, i.e. at most a weak monotone relation (|rho| < 0.5) remains.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import spearmanr
from torch import nn

PASS_BELOW = 0.5  # rank correlation, original vs. fully randomized maps

# (model, images (N, C, H, W), targets (N,)) -> maps (N, H, W)
Method = Callable[[nn.Module, torch.Tensor, torch.Tensor], np.ndarray]


@dataclass(frozen=True)
class SanityResult:
    """One method's cascade: correlations[k] after randomizing layers[0..k] (output first)."""

    method: str
    layers: list[str]
    correlations: list[float]

    @property
    def final(self) -> float:
        return self.correlations[-1]

    @property
    def passed(self) -> bool:
        return self.final < PASS_BELOW

    @property
    def verdict(self) -> str:
        rule = f"rank correlation {self.final:.2f} with all layers random"
        return f"{'passes' if self.passed else 'FAILS'} ({rule}; needs < {PASS_BELOW})"


def weighted_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Convolutions and linear layers, output first: the order of the cascade."""
    found = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    return found[::-1]


def cascading_randomization(
    model: nn.Module, x: torch.Tensor, targets: torch.Tensor, methods: dict[str, Method], seed: int
) -> list[SanityResult]:
    """Each method's correlations as the layers of a copy of `model` are re-initialized from the
    output down; `model` itself is left untouched."""
    original = {name: method(model, x, targets) for name, method in methods.items()}
    randomized = copy.deepcopy(model).eval()
    layers = weighted_layers(randomized)
    correlations: dict[str, list[float]] = {name: [] for name in methods}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for _, layer in layers:
            layer.reset_parameters()  # the layer's own initialization, as in the paper
            for name, method in methods.items():
                maps = method(randomized, x, targets)
                correlations[name].append(mean_rank_correlation(original[name], maps))
    names = [name for name, _ in layers]
    return [SanityResult(m, names, correlations[m]) for m in methods]


def mean_rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho between matching maps (N, H, W), averaged over the N images. A constant
    map ranks no pixel above another, so it keeps none of the ranking: rho 0."""
    values = []
    for first, second in zip(a.reshape(len(a), -1), b.reshape(len(b), -1), strict=True):
        constant = np.ptp(first) == 0 or np.ptp(second) == 0
        values.append(0.0 if constant else float(spearmanr(first, second).statistic))
    return float(np.mean(values))
