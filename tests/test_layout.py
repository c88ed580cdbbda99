"""The package's shape: thin stages, unique module names, commands that import only their own."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from convnets.cli import COMMANDS

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "convnets"
STAGE_LINES, FUNCTION_LINES = 60, 40


def test_stage_modules_are_thin():
    """A stage parses its paths, builds its config, calls the library and writes."""
    too_long = []
    for path in sorted((PACKAGE / "stages").glob("*.py")):
        lines = len(path.read_text().splitlines())
        if lines > STAGE_LINES:
            too_long.append(f"{path.name}: {lines} lines")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > FUNCTION_LINES:
                    too_long.append(f"{path.name}:{node.name}: {length} lines")
    assert not too_long, too_long


def test_every_dvc_stage_module_is_a_stage_and_nothing_else_is():
    """`stages/` holds one module per dvc.yaml stage; other commands live with their library."""
    stage_modules = {p.stem for p in (PACKAGE / "stages").glob("*.py")} - {"__init__"}
    dvc_stages = set((PACKAGE.parents[1] / "dvc.yaml").read_text().split("\nstages:\n")[1].split())
    named = {name.rstrip(":") for name in dvc_stages if name.endswith(":")}
    assert stage_modules <= named
    in_stages = {n for n, (module, _) in COMMANDS.items() if module.startswith("convnets.stages.")}
    assert in_stages == stage_modules


def test_no_two_modules_share_a_name():
    """A name means one thing: `stages/report.py` beside the package `report/` is that stage."""
    names = Counter(p.stem for p in PACKAGE.rglob("*.py") if p.stem != "__init__")
    assert [name for name, count in names.items() if count > 1] == []


MODULES = "modules loaded:"  # printed once the command has returned


def _imported_after(argv: list[str]) -> set[str]:
    """The modules a fresh interpreter holds once `convnets <argv>` has finished.

    The command must really run: exit status 0 (`--help` exits by SystemExit(0)), its usage in
    the output, and the module list printed after it returned. A command that crashed before
    importing anything would otherwise pass every "no torch" check.
    """
    code = (
        "import sys\nfrom convnets.cli import main\n"
        f"try:\n    status = main({argv!r})\nexcept SystemExit as stop:\n    status = stop.code\n"
        f"print({MODULES!r}, *sorted(sys.modules))\nsys.exit(status)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    command = f"convnets {' '.join(argv)}"
    assert result.returncode == 0, f"{command} exited {result.returncode}:\n{result.stderr[-2000:]}"
    usage = " ".join(["usage: convnets", *(word for word in argv if not word.startswith("-"))])
    assert usage in result.stdout, f"{command} printed no {usage!r}:\n{result.stdout[-2000:]}"
    listed = [line for line in result.stdout.splitlines() if line.startswith(MODULES)]
    assert len(listed) == 1, f"{command} never returned to print its modules"
    return set(listed[0].removeprefix(MODULES).split())


@pytest.mark.slow  # spawns processes
def test_help_imports_no_stage_and_download_no_torch():
    top = _imported_after(["--help"])
    assert not {m for m in top if m.startswith("convnets.stages")}
    assert "torch" not in top
    download = _imported_after(["download", "--help"])
    assert "convnets.stages.download" in download
    assert "torch" not in download
    assert not {m for m in download if m.startswith("convnets.stages.") and "download" not in m}
