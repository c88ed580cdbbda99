"""Where and how tensors run: device, precision, threads, seeds, and the batch layout.

Training runs channels_last, with bf16 autocast where the hardware computes bf16 natively;
`convnets bench-train` measures what that path gives on the machine at hand.
"""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import torch

from convnets.errors import ConvnetsError


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    precision: str  # "bf16" or "fp32", resolved from "auto"
    threads: int

    def autocast(self):
        """bf16 autocast where chosen; a no-op context for fp32."""
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def to_input(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, C, H, W) -> float in [0, 1] on the device, channels_last."""
        x = images.to(self.device, non_blocking=True).float().div_(255.0)
        return x.contiguous(memory_format=torch.channels_last)

    def describe(self) -> dict:
        return {"device": str(self.device), "precision": self.precision, "threads": self.threads}


@cache
def cpu_has_bf16() -> bool:
    """True where the CPU computes bf16 natively (AVX512-BF16 or AMX); emulation is slower."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_runtime(device: str, precision: str, threads: int) -> Runtime:
    """Turn the `auto` settings into concrete ones, and refuse ones this machine cannot do."""
    if device == "cuda" and not torch.cuda.is_available():
        raise ConvnetsError(
            "base.device is 'cuda' but no CUDA device is available. "
            "Fix: `dvc exp run -S base.device=auto` (or cpu)."
        )
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    chosen = torch.device(device)
    bf16_ok = torch.cuda.is_bf16_supported() if chosen.type == "cuda" else cpu_has_bf16()
    if precision == "bf16" and not bf16_ok:
        raise ConvnetsError(
            f"train.precision is 'bf16' but this {chosen.type} has no native bf16. "
            "Fix: `dvc exp run -S train.precision=auto` (or fp32)."
        )
    resolved = "bf16" if precision == "bf16" or (precision == "auto" and bf16_ok) else "fp32"
    return Runtime(chosen, resolved, threads)


def seed_everything(seed: int, threads: int) -> None:
    """Same seed and thread count, same numbers: float sums depend on how work is split."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
