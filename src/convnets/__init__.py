"""convnets: reproducible image classification, from download to ONNX, driven by DVC."""
