"""What the inference benchmark is for: its targets, the ratios they are about, and a verdict each.

The targets are the project's claims about onnxruntime against PyTorch eager; `convnets
benchmark` (the DVC stage) measures them on the machine at hand and says met or not.
"""

from __future__ import annotations

TARGETS = {"onnx_fp32_over_pytorch_batch1": 3.0, "int8_over_fp32_largest_batch": 1.5}


def judge(reports: dict[str, dict], largest: str) -> tuple[dict[str, float], list[str]]:
    """The ratios the targets are about, and a plain sentence for each, met or not."""
    eager, fp32, int8 = (
        reports[k] for k in ("pytorch_eager", "onnxruntime_fp32", "onnxruntime_int8")
    )
    ratios = {
        "onnx_fp32_over_pytorch_batch1": eager["latency_ms"]["p50"] / fp32["latency_ms"]["p50"],
        "int8_over_fp32_largest_batch": (
            int8["images_per_second"][largest] / fp32["images_per_second"][largest]
        ),
        "int8_accuracy_drop_points": (fp32["test_accuracy"] - int8["test_accuracy"]) * 100,
    }
    verdicts = []
    for key, target in TARGETS.items():
        met = "met" if ratios[key] >= target else "NOT met"
        verdicts.append(f"{key} = {ratios[key]:.2f}x (target {target}x): {met}")
    if ratios["int8_over_fp32_largest_batch"] < 1:
        verdicts.append(f"int8 is slower than fp32 at batch {largest} for this model")
    return ratios, verdicts


def headline(engines: dict[str, dict], ratios: dict[str, float]) -> dict[str, float]:
    """What `dvc exp show` shows of the shipped model: int8 accuracy and onnxruntime's speed-up."""
    return {
        "int8_test": engines["onnxruntime_int8"]["test_accuracy"],
        "ort_speedup": ratios["onnx_fp32_over_pytorch_batch1"],
    }
