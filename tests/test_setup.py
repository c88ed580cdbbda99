"""`make` refuses to start a new environment on a disk that cannot hold it, and says why.

A CI run once died 112 s into `pip install` with "No space left on device". The check runs the
real Makefile in an empty folder with a stand-in `df` that reports 2 GB free.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.require import require

ROOT = Path(__file__).resolve().parents[1]

FAKE_DF = """#!/bin/sh
echo "Filesystem 1024-blocks Used Available Capacity Mounted on"
echo "/dev/x 10485760 8388608 2097152 80% /"
"""


def test_setup_refuses_a_disk_too_small_for_the_environment(tmp_path):
    require(shutil.which("make") is not None, "make (apt-get install make)")
    shutil.copy(ROOT / "Makefile", tmp_path)
    (tmp_path / "requirements.txt").touch()
    (tmp_path / "pyproject.toml").touch()
    fake_bin = tmp_path / "fake-bin"
    fake_bin.mkdir()
    (fake_bin / "df").write_text(FAKE_DF)
    (fake_bin / "df").chmod(0o755)
    env = {"PATH": f"{fake_bin}:/usr/bin:/bin", "HOME": str(tmp_path)}
    run = subprocess.run(
        ["make", ".venv/.installed"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert run.returncode != 0
    assert "needs about 7 GB of free disk" in run.stderr
    assert "which has 2 GB" in run.stderr
    assert "Fix: free some space" in run.stderr
    assert not (tmp_path / ".venv").exists(), "nothing may be installed on a disk that is too small"
