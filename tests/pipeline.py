"""Run the real DVC pipeline in a throwaway copy of the repository."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def copy_repo(dest: Path) -> Path:
    """Copy what git would ship (tracked and new, not ignored) into `dest`, as a fresh git repo."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    for stale in ("dvc.lock",):  # the copy must run every stage itself
        (dest / stale).unlink(missing_ok=True)
    if (ROOT / "node_modules").is_dir():  # npm's onnxruntime-web, for the explorer stage
        (dest / "node_modules").symlink_to(ROOT / "node_modules")
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "copy for a test")
    return dest


def clone_run(repo: Path, dest: Path) -> Path:
    """A private copy of a pipeline run (git history, DVC cache, outputs and all).

    Tests that change params, commits or remotes work on one, so the shared run they start from
    is the same whatever order the tests run in.
    """
    shutil.copytree(repo, dest, symlinks=True)
    return dest


def committed_run(repo: Path, dest: Path) -> Path:
    """A `clone_run` with the run committed: experiments start from it and rerun only what a
    param touches, as after `make repro` and a commit."""
    clone = clone_run(repo, dest)
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "-m", "baseline run")
    return clone


def git(repo: Path, *args: str) -> None:
    env = os.environ | {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@localhost",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@localhost",
    }
    subprocess.run(["git", *args], cwd=repo, check=True, env=env)


def set_params(repo: Path, **changes) -> None:
    """Set dotted keys in the copy's params.yaml, e.g. set_params(repo, **{"prepare.subset": 5})."""
    params = changed_params(repo / "params.yaml", changes)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git(repo, "commit", "-q", "-am", "test params")


def changed_params(path: Path, changes: dict) -> dict:
    """The params file at `path` with dotted keys set, e.g. {"prepare.subset": 5}."""
    params = yaml.safe_load(path.read_text())
    for key, value in changes.items():
        *groups, last = key.split(".")
        target = params
        for group in groups:
            target = target[group]
        target[last] = value
    return params


BIN = Path(sys.executable).parent  # the venv's tools: dvc, convnets


def tool_env(**extra: str) -> dict[str, str]:
    """The environment `make` gives a command: the venv's tools first on PATH, and `extra`."""
    return os.environ | {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"} | extra


def dvc_command(*args: str) -> list[str]:
    return [str(BIN / "dvc"), *args]


def dvc(
    repo: Path, *args: str, check: bool = True, log: Path | None = None
) -> subprocess.CompletedProcess:
    """Run the venv's dvc with the venv's `convnets` on PATH, as `make repro` does.

    With `log`, the output goes to that file instead: `dvc queue start` leaves workers behind
    that inherit it, and a captured pipe would hold this call until the last worker ends.
    """
    env, command = tool_env(), dvc_command(*args)
    if log is None:
        result = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True)
    else:
        with log.open("w") as out:
            result = subprocess.run(command, cwd=repo, env=env, stdout=out, stderr=out, text=True)
        result.stdout, result.stderr = log.read_text(), ""
    if check and result.returncode:
        raise AssertionError(f"dvc {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def declared_outputs(repo: Path) -> dict[str, list[str]]:
    """Every stage's outputs (outs, metrics and plots alike) as `dvc.lock` records them."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return {
        name: [out["path"] for out in stage.get("outs", [])]
        for name, stage in lock["stages"].items()
    }


def assert_every_stage_ran_and_wrote_its_outputs(repo: Path) -> None:
    """Each stage `dvc stage list` knows is locked, and each output it declares exists."""
    stages = dvc(repo, "stage", "list", "--name-only").stdout.split()
    outputs = declared_outputs(repo)
    assert sorted(outputs) == sorted(stages), "a stage did not run"
    missing = [path for paths in outputs.values() for path in paths if not (repo / path).exists()]
    assert not missing, f"declared outputs missing: {missing}"
    assert json.loads(dvc(repo, "status", "--json").stdout) == {}


def stages_ran(output: str) -> set[str]:
    """The stages a `dvc repro` or `dvc exp run` ran, from its "Running stage" lines."""
    return set(re.findall(r"^Running stage '([^']+)'", output, flags=re.MULTILINE))
