"""How many threads to compute with: `auto` is every core this process may run on.

Stdlib only, so `convnets predict` (onnxruntime, no torch) resolves `--threads auto` by the
same rule as the pipeline's `base.threads: auto`.
"""

from __future__ import annotations

import os

AUTO = "auto"


def available_cores() -> int:
    """The cores this process may run on (its affinity mask: a container's or taskset's limit),
    not the machine's total, which would oversubscribe a restricted process."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # platforms without affinity masks
        return os.cpu_count() or 1


def resolve_threads(setting: int | str) -> int:
    """`auto` -> available_cores(); a number pins the count (part of reproducibility)."""
    return available_cores() if setting == AUTO else int(setting)
