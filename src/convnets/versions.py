"""Library versions recorded in every output, so a result can be traced to its environment."""

from __future__ import annotations

import importlib.metadata
import platform

_PACKAGES = ("convnets", "numpy", "torch", "torchvision", "scikit-learn", "onnx", "onnxruntime")


def library_versions() -> dict[str, str]:
    """Python and the installed versions of the packages that shape our numbers."""
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions
