"""convnets: reproducible image classification, from download to ONNX, driven by DVC."""

__version__ = "0.1.0"
