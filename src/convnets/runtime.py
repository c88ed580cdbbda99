"""Where and how tensors run: device, precision, threads, seeds, and the batch layout.

Training runs channels_last, in fp32 or with bf16 autocast; `train.precision: auto` takes the
faster of the two for each model (convnets.training.precision), and `convnets bench-train`
measures both on the machine at hand.
"""

from __future__ import annotations

import contextlib
import os
import platform
import random
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import torch

from convnets.data.tensors import to_unit_float
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
        x = to_unit_float(images.to(self.device, non_blocking=True))
        return x.contiguous(memory_format=torch.channels_last)

    def describe(self) -> dict:
        return {"device": str(self.device), "precision": self.precision, "threads": self.threads}


def cpu_has_bf16() -> bool:
    """True where the CPU computes bf16 natively (AVX512-BF16 or AMX); emulation is slower."""
    return bool({"avx512_bf16", "amx_bf16"} & set(cpu_flags()))


@cache
def cpu_flags() -> list[str]:
    """The CPU features that decide which kernels run (VNNI for int8, BF16, AMX)."""
    flags = _cpuinfo().get("flags", "").split()
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_int8", "amx_bf16")
    return [flag for flag in wanted if flag in flags]


def machine() -> dict:
    """What decides how fast a kernel runs here: the CPU, its features, oneDNN's cap, torch."""
    return {
        "cpu": _cpuinfo().get("model name", platform.machine()),
        "flags": cpu_flags(),
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", ""),
        "torch": torch.__version__,
    }


@cache
def _cpuinfo() -> dict[str, str]:
    """The first processor's entries of /proc/cpuinfo ({} where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    entries = (line.split(":", 1) for line in text.split("\n\n")[0].splitlines() if ":" in line)
    return {key.strip(): value.strip() for key, value in entries}


def resolve_device(setting: str) -> torch.device:
    """`base.device` as a torch device: `auto` is CUDA where there is one, else the CPU."""
    if setting == "cuda" and not torch.cuda.is_available():
        raise ConvnetsError(
            "base.device is 'cuda' but no CUDA device is available. "
            "Fix: `dvc exp run -S base.device=auto` (or cpu)."
        )
    if setting == "auto":
        setting = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(setting)


def native_bf16(device: torch.device) -> bool:
    """True where `device` computes bf16 in hardware; elsewhere bf16 is emulated and slower."""
    return torch.cuda.is_bf16_supported() if device.type == "cuda" else cpu_has_bf16()


def resolve_runtime(device: str, precision: str, threads: int) -> Runtime:
    """A runtime in a concrete precision (fp32 or bf16), refusing bf16 where it is emulated.

    `train.precision: auto` is decided per model by `convnets.training.precision`.
    """
    chosen = resolve_device(device)
    if precision == "bf16" and not native_bf16(chosen):
        raise ConvnetsError(
            f"train.precision is 'bf16' but this {chosen.type} has no native bf16. "
            "Fix: `dvc exp run -S train.precision=auto` (or fp32)."
        )
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be fp32 or bf16 here, not {precision!r}")
    return Runtime(chosen, precision, threads)


def seed_everything(seed: int, threads: int) -> None:
    """Same seed and thread count, same numbers: float sums depend on how work is split."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
