"""`train.precision: auto`: the faster of fp32 and bf16 for this model on this machine.

Which is faster depends on the model as much as on the CPU. On a 2-core Xeon with AVX512-BF16
but no AMX, the lesson CNN stepped 1.7x faster in bf16 while the VGG stepped 1.15x slower; with
AMX bf16 wins; where bf16 is emulated (AVX2 only) it always loses. No rule of flags gets all of
that right, so `auto` measures: a few training steps of the model in each precision, on one
resident batch. The rates are kept in a cache file per machine, model and batch size, so every
later run on the same machine with the same params makes the same choice (and so gives the same
numbers); deleting the file measures again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from convnets import io

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class PrecisionChoice:
    precision: str  # fp32 or bf16
    reason: str  # why, in words, for the log and timing.json
    rates: dict[str, float]  # measured training images/s per precision; {} when not measured

    def describe(self) -> dict:
        return {"precision": self.precision, "reason": self.reason, "images_per_second": self.rates}


def cache_file() -> Path:
    """$CONVNETS_CACHE_DIR, else $XDG_CACHE_HOME/convnets, else ~/.cache/convnets."""
    folder = os.environ.get("CONVNETS_CACHE_DIR") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "convnets"
    )
    return Path(folder) / "precision.json"


def probe_key(machine: dict, model: dict) -> str:
    """A short stable key for (machine, model): the same inputs give the same key."""
    text = json.dumps({"machine": machine, "model": model}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def choose_precision(
    requested: str,
    native_bf16: bool,
    key: str,
    measure: Callable[[str], float],
    cache: Path,
) -> PrecisionChoice:
    """`requested` as it is, unless `auto`: then the faster by `measure` (images/s), cached."""
    if requested != "auto":
        return PrecisionChoice(requested, "set by train.precision", {})
    if not native_bf16:
        return PrecisionChoice("fp32", "no native bf16 here: emulated bf16 is slower", {})
    known = _read(cache)
    if key in known:
        rates, reason = known[key], f"measured earlier on this machine ({cache})"
    else:
        rates = {precision: measure(precision) for precision in PRECISIONS}
        io.write_json(cache, known | {key: rates})
        reason = f"measured now, kept in {cache}"
    faster = max(PRECISIONS, key=lambda precision: rates[precision])
    log.info("precision auto: %s (%s; images/s %s)", faster, reason, _rounded(rates))
    return PrecisionChoice(faster, reason, rates)


def _read(cache: Path) -> dict[str, dict[str, float]]:
    """The cached rates; an unreadable or malformed file counts as empty (measured again)."""
    try:
        known = json.loads(cache.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring the precision cache %s (%s); measuring again", cache, exc)
        return {}
    valid = isinstance(known, dict) and all(
        isinstance(rates, dict) and all(isinstance(rates.get(p), float) for p in PRECISIONS)
        for rates in known.values()
    )
    if not valid:
        log.warning("ignoring the precision cache %s (malformed); measuring again", cache)
    return known if valid else {}


def _rounded(rates: dict[str, float]) -> dict[str, int]:
    return {precision: round(rate) for precision, rate in rates.items()}
