"""The results committed to git are the ones dvc.lock records, and nothing else.

The README's figures and a fresh clone's `dvc exp show` and `dvc metrics show` read the
uncached outputs (metrics, plots, tables) straight from git. They must come from the run that
wrote the committed dvc.lock: a file from an older run, a missing one or a variant's leftovers
would show another model's numbers beside today's params.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import yaml
from dvc.repo import Repo

ROOT = Path(__file__).resolve().parents[1]
FIX = "Fix: commit dvc.lock together with every output of the `dvc repro` run that wrote it"


def lock_outputs(root: Path) -> tuple[list[dict], list[str]]:
    """The outputs dvc.lock records for dvc.yaml's stages (each with its stage's name), and
    the stages dvc.lock still records that dvc.yaml no longer has (DVC leaves those behind
    when a `foreach` item goes, e.g. a variant taken out of params.yaml)."""
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]
    stages = {stage.addressing for stage in Repo(str(root)).index.stages}
    outputs = [
        {**out, "stage": name}
        for name, entry in lock.items()
        if name in stages
        for out in entry.get("outs", [])
    ]
    return outputs, sorted(set(lock) - stages)


def git_files(root: Path, *args: str) -> list[str]:
    """The paths a git command prints. Exit status 1 is an empty answer: `git check-ignore`
    says "none of these is ignored" that way."""
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    if result.returncode not in (0, 1):
        raise RuntimeError(f"git {args[0]} failed: {result.stderr.strip()}")
    return result.stdout.splitlines()


def stale_results(root: Path) -> list[str]:
    """What disagrees between dvc.lock's outputs and the files git tracks, one line each."""
    tracked = set(git_files(root, "ls-files", "reports", "models"))
    outputs, orphans = lock_outputs(root)
    paths = [out["path"] for out in outputs]
    ignored = set(git_files(root, "check-ignore", "--no-index", *paths)) if paths else set()
    problems = [
        f"dvc.lock records stage {name}, which dvc.yaml no longer has: delete its entry"
        for name in orphans
    ]
    for out in outputs:
        path, where = out["path"], f"{out['path']} (stage {out['stage']})"
        if path in ignored:
            continue  # cached by DVC: `dvc pull` or `dvc repro` brings it
        if out["md5"].endswith(".dir"):
            inside = sum(f.startswith(path + "/") for f in tracked)
            if inside != out["nfiles"]:
                problems.append(f"{where}: git tracks {inside} files, dvc.lock {out['nfiles']}")
        elif path not in tracked:
            problems.append(f"{where}: not committed")
        elif hashlib.md5((root / path).read_bytes()).hexdigest() != out["md5"]:
            problems.append(f"{where}: not the file dvc.lock records")
    covered = {f for f in tracked for p in paths if f == p or f.startswith(p + "/")}
    leftovers = sorted(f for f in tracked - covered if Path(f).name != ".gitignore")
    problems += [f"{f}: committed, but no stage writes it: git rm it" for f in leftovers]
    return problems


def test_committed_results_are_the_ones_dvc_lock_records():
    problems = stale_results(ROOT)
    assert not problems, "\n".join(problems) + f"\n{FIX}."
