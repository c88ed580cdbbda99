"""Skip locally, fail on CI: a required tool or dataset that is missing must not turn CI green.

CI sets CI=true (.ci/run exports it). There a missing Chromium, Playwright, Fashion-MNIST or
torchrun means a broken install step, and a skip would hide it; locally the skip still says what
is missing and how to get it.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def require(present: bool, what: str) -> None:
    """Return if `present`; otherwise skip (locally) or fail (on CI), naming `what` is missing."""
    if present:
        return
    if on_ci():
        pytest.fail(f"CI=true and a required test cannot run: missing {what}", pytrace=False)
    pytest.skip(f"missing {what}")


def require_fashion_mnist() -> Path:
    require(
        (FASHION_MNIST / "train-images-idx3-ubyte.gz").is_file(),
        f"Debian's dataset-fashion-mnist in {FASHION_MNIST} (make test installs it)",
    )
    return FASHION_MNIST


def require_torchrun() -> None:
    import torch.distributed

    require(
        torch.distributed.is_available()
        and importlib.util.find_spec("torch.distributed.run") is not None,
        "torchrun (torch.distributed.run, from a torch build with distributed support)",
    )


def require_playwright():
    """Playwright's sync API, which drives Debian's Chromium in the explorer's browser tests.

    It is pinned in requirements.txt and launched with `executable_path`, so it downloads no
    browser of its own: `make setup` installs the package, `make test` Debian's chromium.
    """
    try:
        from playwright import sync_api
    except ImportError:
        sync_api = None
    require(
        sync_api is not None,
        "Playwright's Python package (make setup, or: .venv/bin/pip install -r requirements.txt)",
    )
    return sync_api
