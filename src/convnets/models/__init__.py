"""Models: importing this package registers every model with the registry."""

from convnets.models import capsnet, cnn, mlp, resnet, vgg  # noqa: F401
from convnets.models.registry import create_model, get_spec, model_names

__all__ = ["create_model", "get_spec", "model_names"]
