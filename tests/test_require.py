"""A required test that cannot run skips locally and fails under CI=true, naming what is missing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # spawns pytest

BROWSER_TEST = """
from tests.browser import chromium

def test_needs_a_browser():
    chromium()
"""


def run_without_chromium(tmp_path, ci: str | None) -> subprocess.CompletedProcess:
    """pytest on a test that needs Chromium, with PATH holding python's folder only."""
    (tmp_path / "test_browser_needed.py").write_text(BROWSER_TEST)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env |= {"PATH": os.path.dirname(sys.executable), "PYTHONPATH": str(ROOT)}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_missing_chromium_fails_on_ci_naming_it(tmp_path):
    result = run_without_chromium(tmp_path, "true")
    assert result.returncode == 1, result.stdout
    assert "1 failed" in result.stdout
    assert "CI=true and a required test cannot run: missing Chromium on PATH" in result.stdout


def test_missing_chromium_skips_locally_saying_why(tmp_path):
    result = run_without_chromium(tmp_path, None)
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout and "missing Chromium on PATH" in result.stdout
