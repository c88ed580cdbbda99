"""Build a registered model: import its module only when it is built (timm's create_model).

Only the chosen model's module is imported, so a stage that builds the VGG depends on `vgg.py`
and not on the other architectures; `registry.py` names the models and their options.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from convnets.models.registry import validate_options

if TYPE_CHECKING:
    from torch import nn


def create_model(
    name: str,
    in_channels: int,
    num_classes: int,
    image_size: int,
    options: dict[str, Any] | None = None,
) -> nn.Module:
    """Build a registered model for inputs of shape (in_channels, image_size, image_size)."""
    checked = validate_options(name, options or {})
    module = importlib.import_module(f"convnets.models.{name}")  # the module named in MODELS
    return module.build(in_channels, num_classes, image_size, checked)
