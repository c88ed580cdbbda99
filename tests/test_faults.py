"""Faults: a stage killed mid-write, and earlier outputs that are corrupt or hostile.

Disk-full style write failures are in test_io.py; a hostile checkpoint given straight to the
loader is in test_training.py. Here the same faults go through the stages and `dvc repro`.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from convnets.io import TEMP_MARKER
from tests.conftest import run_stage
from tests.fakes import Hostile
from tests.pipeline import clone_run, dvc

pytestmark = pytest.mark.slow

# Imported by every Python process started with this folder on PYTHONPATH. In the one
# `convnets STALL_STAGE` process it cuts each atomic write to a STALL_ON file to half its bytes
# and holds it there, before the rename, until the test kills it: a crash halfway through.
STALLING_SITECUSTOMIZE = """
import os, sys
if sys.argv[0].endswith("convnets") and sys.argv[1:2] == [os.environ["STALL_STAGE"]]:
    import contextlib, time
    from convnets import io
    writer = io.atomic_write

    @contextlib.contextmanager
    def stalling(path, mode="wb"):
        with writer(path, mode) as handle:
            yield handle
            if str(path).endswith(os.environ["STALL_ON"]):
                handle.flush()
                handle.truncate(handle.tell() // 2)
                open(os.environ["STALL_SIGNAL"], "w").close()
                time.sleep(120)

    io.atomic_write = stalling
"""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cached_md5s(repo: Path) -> set[str]:
    """The md5 of every file in the DVC cache (the cache names files by their md5)."""
    root = repo / ".dvc/cache/files/md5"
    return {p.parent.name + p.name for p in root.glob("*/*") if not p.name.endswith(".dir")}


def test_stage_killed_mid_write_is_never_cached_and_rerun_matches(mnist_repo, tmp_path):
    repo = clone_run(mnist_repo, tmp_path / "killed")  # its prepare: uninterrupted
    output = repo / "data/prepared/mnist.npz"
    uninterrupted, lock = sha256(output), (repo / "dvc.lock").read_text()

    signal_file = tmp_path / "stalled"
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(STALLING_SITECUSTOMIZE)
    env = os.environ | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(hook),
        "STALL_STAGE": "prepare",
        "STALL_ON": "mnist.npz",
        "STALL_SIGNAL": str(signal_file),
    }
    dvc_bin = Path(sys.executable).parent / "dvc"
    run = subprocess.Popen(
        [dvc_bin, "repro", "--force", "--single-item", "prepare"],
        cwd=repo,
        env=env,
        start_new_session=True,  # its own process group: dvc and the stage die together
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not signal_file.exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert signal_file.exists(), "the stage never reached its write"
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()

    temps = list(output.parent.glob(f".*{TEMP_MARKER}*"))
    assert len(temps) == 1, "the kill should have caught the writer holding its temp file"
    assert not output.exists() or sha256(output) == uninterrupted  # never a half-written file
    assert (repo / "dvc.lock").read_text() == lock
    assert hashlib.md5(temps[0].read_bytes()).hexdigest() not in cached_md5s(repo)

    result = dvc(repo, "repro", "prepare")
    assert sha256(output) == uninterrupted, result.stdout
    assert (repo / "dvc.lock").read_text() == lock
    assert dvc(repo, "status", "--json", "prepare").stdout.strip() == "{}"


# In the one `convnets train` process: after STALL_AFTER optimizer steps (mid-epoch), signal and
# hold, so the test can SIGKILL training while it is inside an epoch.
STALLING_TRAINER = """
import os, sys
if sys.argv[0].endswith("convnets") and sys.argv[1:2] == ["train"]:
    import time
    from convnets.training import loop
    step, done = loop.train_step, []

    def stalling(*args, **kwargs):
        done.append(1)
        if len(done) == int(os.environ["STALL_AFTER"]):
            open(os.environ["STALL_SIGNAL"], "w").close()
            time.sleep(120)
        return step(*args, **kwargs)

    loop.train_step = stalling
"""


def test_training_killed_mid_epoch_reruns_to_the_same_bytes(mnist_repo, tmp_path):
    repo = clone_run(mnist_repo, tmp_path / "killed-train")  # its train@cnn: uninterrupted
    results = [
        repo / "models/checkpoints/cnn.pt",
        repo / "reports/train/cnn/metrics.json",
        repo / "reports/train/cnn/plots/metrics/val/loss.tsv",
    ]
    uninterrupted, lock = [sha256(p) for p in results], (repo / "dvc.lock").read_text()

    signal_file = tmp_path / "stalled"
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(STALLING_TRAINER)
    env = os.environ | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH")])),
        "STALL_AFTER": "30",  # TINY_RUN: 360 images in batches of 16, 23 steps an epoch
        "STALL_SIGNAL": str(signal_file),
    }
    run = subprocess.Popen(
        [Path(sys.executable).parent / "dvc", "repro", "--force", "--single-item", "train@cnn"],
        cwd=repo,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180
    while not signal_file.exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert signal_file.exists(), "training never reached its 30th step"
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    assert (repo / "dvc.lock").read_text() == lock  # the killed run recorded nothing

    dvc(repo, "repro", "train@cnn")
    assert [sha256(p) for p in results] == uninterrupted
    assert _without_wall_times(repo / "dvc.lock") == _without_wall_times(lock)


def _without_wall_times(lock: Path | str) -> dict:
    """dvc.lock as data, less the md5s of timing.json, which a rerun rewrites by design."""
    text = lock.read_text() if isinstance(lock, Path) else lock
    stages = yaml.safe_load(text)["stages"]
    for stage in stages.values():
        stage["outs"] = [o for o in stage.get("outs", []) if not o["path"].endswith("timing.json")]
    return stages


def _truncate(source: Path, target: Path) -> Path:
    target.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    return target


def _stage_args(repo: Path, tmp: Path, stage: str, bad: Path) -> list[str]:
    """The stage's command line, reading `bad` in place of one earlier output."""
    prepared = repo / "data/prepared/mnist.npz"
    if stage == "augment":
        return ["--prepared", bad, "--out", tmp / "a.npz", "--preview", tmp / "p.png"]
    if stage == "evaluate":
        return ["--variant", "cnn", "--checkpoint", bad, "--prepared", prepared, "--out", tmp]
    return [
        *("--checkpoint", repo / "models/best.pt"),
        *("--onnx", bad, "--int8", repo / "models/best.int8.onnx", "--prepared", prepared),
        *("--out", tmp / "b.json", "--plot", tmp / "b.png", "--summary", tmp / "s.json"),
    ]


@pytest.mark.parametrize(
    ("stage", "corrupt", "rerun"),
    [
        ("augment", "data/prepared/mnist.npz", "dvc repro --force prepare"),
        ("evaluate", "models/checkpoints/cnn.pt", "dvc repro --force train@cnn"),
        ("evaluate", "hostile", "dvc repro --force train@cnn"),
        ("benchmark", "models/best.onnx", "dvc repro --force export"),
    ],
)
def test_corrupt_earlier_output_is_refused_naming_the_stage_to_rerun(
    stage, corrupt, rerun, mnist_repo, tmp_path, capsys
):
    marker = tmp_path / "pwned"
    if corrupt == "hostile":
        bad = tmp_path / "cnn.pt"
        torch.save({"format": "convnets-checkpoint/1", "x": Hostile(marker)}, bad)
    else:
        bad = _truncate(mnist_repo / corrupt, tmp_path / Path(corrupt).name)
    args = _stage_args(mnist_repo, tmp_path, stage, bad)
    code = run_stage(stage, "--params", str(mnist_repo / "params.yaml"), *map(str, args))
    err = capsys.readouterr().err
    assert code == 1, err
    assert rerun in err and str(bad) in err and "Traceback" not in err
    assert not marker.exists()
