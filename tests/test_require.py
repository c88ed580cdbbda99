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

PLAYWRIGHT_TEST = """
import sys

sys.modules["playwright"] = None  # import playwright now raises ImportError: not installed

from tests.require import require_playwright

def test_needs_playwright():
    require_playwright()
"""


def run_missing(tmp_path, ci: str | None, test: str = BROWSER_TEST) -> subprocess.CompletedProcess:
    """pytest on `test` with CI set to `ci`, and PATH holding python's folder only (no Chromium)."""
    (tmp_path / "test_browser_needed.py").write_text(test)
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
    result = run_missing(tmp_path, "true")
    assert result.returncode == 1, result.stdout
    assert "1 failed" in result.stdout
    assert "CI=true and a required test cannot run: missing Chromium on PATH" in result.stdout


def test_missing_chromium_skips_locally_saying_why(tmp_path):
    result = run_missing(tmp_path, None)
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout and "missing Chromium on PATH" in result.stdout


@pytest.mark.parametrize("ci", ["true", None])
def test_missing_playwright_fails_on_ci_and_skips_locally_naming_the_fix(tmp_path, ci):
    result = run_missing(tmp_path, ci, PLAYWRIGHT_TEST)
    assert result.returncode == (1 if ci else 0), result.stdout
    assert ("1 failed" if ci else "1 skipped") in result.stdout
    assert "missing Playwright's Python package (make setup, or:" in result.stdout


def test_ci_runs_make_test_with_ci_true(tmp_path):
    """.ci/run exports CI=true, or every check above would only skip on CI."""
    make = tmp_path / "make"
    make.write_text('#!/bin/sh\necho "make $* with CI=$CI"\n')
    make.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "HOME": str(tmp_path)}  # no CI of its own
    result = subprocess.run(
        [str(ROOT / ".ci/run")], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["make test with CI=true"]
