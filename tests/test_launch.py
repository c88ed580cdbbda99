"""`train.processes` and `train.nodes`: the train stage launches its own DistributedDataParallel
workers with PyTorch's elastic launcher, on one machine or as one of several meeting at a c10d
rendezvous; here two local launchers stand in for two machines over 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from convnets.config import load_params
from convnets.errors import ConvnetsError
from convnets.training import launch
from tests.fakes import free_port
from tests.pipeline import clone_run, committed_run, dvc, dvc_command, tool_env
from tests.require import require_torchrun

CPU, CUDA = torch.device("cpu"), torch.device("cuda")
RENDEZVOUS = (launch.ENDPOINT, launch.RUN_ID, launch.TIMEOUT)  # never inherited from the shell
TRAIN = [
    "train", "--variant", "tiny", "--augmented", "augmented.npz", "--prepared", "prepared.npz",
    "--checkpoint", "out/tiny.pt", "--live", "live/tiny", "--timing", "live/tiny/timing.json",
]  # fmt: skip
CNN_OUTPUTS = (
    "models/checkpoints/cnn.pt",
    "reports/train/cnn/metrics.json",
    "reports/train/cnn/plots/metrics/train/loss.tsv",
)


def set_train(folder: Path, **values) -> None:
    """Change `train` keys in the `workdir` fixture's params.yaml (fp32: no precision probe)."""
    params = yaml.safe_load((folder / "params.yaml").read_text())
    params["train"].update(precision="fp32", **values)
    (folder / "params.yaml").write_text(yaml.safe_dump(params))


def start_train(folder: Path, **env: str) -> subprocess.Popen:
    """`convnets train` in `folder`, as dvc.yaml runs it, in a process of its own."""
    clean = {k: v for k, v in os.environ.items() if k not in RENDEZVOUS}
    return subprocess.Popen(
        [sys.executable, "-m", "convnets.cli", *TRAIN],
        cwd=folder,
        env=clean | env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(process: subprocess.Popen, timeout: float = 180) -> str:
    output, _ = process.communicate(timeout=timeout)
    return output


def start_dvc(repo: Path, args: tuple[str, ...], env: dict[str, str]) -> subprocess.Popen:
    """`dvc <args>` in `repo`, as `dvc()` runs it, in a process of its own."""
    clean = {k: v for k, v in tool_env().items() if k not in RENDEZVOUS}
    return subprocess.Popen(
        dvc_command(*args),
        cwd=repo,
        env=clean | env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def digests(folder: Path, names: tuple[str, ...]) -> dict[str, str]:
    return {name: hashlib.md5((folder / name).read_bytes()).hexdigest() for name in names}


def listing(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def test_more_processes_than_cores_are_refused(monkeypatch):
    monkeypatch.setattr(launch, "available_cores", lambda: 2)
    assert launch.resolve_processes(2, CPU) == 2
    with pytest.raises(ConvnetsError, match=r"train.processes is 3, but this machine has 2 cores"):
        launch.resolve_processes(3, CPU)


def test_auto_is_one_process_per_gpu_and_one_on_a_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    assert launch.resolve_processes("auto", CUDA) == 4
    assert launch.resolve_processes("auto", CPU) == 1
    with pytest.raises(ConvnetsError, match=r"train\.processes is 5, but this machine has 4 CUDA"):
        launch.resolve_processes(5, CUDA)


def test_one_process_on_one_machine_launches_nothing(workdir):
    plan = launch.plan_launch(load_params().training("tiny"), "tiny", CPU, environ={})
    assert not plan.needed


def test_several_machines_need_a_rendezvous_endpoint(workdir):
    set_train(workdir, nodes=2)
    train = load_params().training("tiny")
    with pytest.raises(ConvnetsError, match=r"train\.nodes is 2, but CONVNETS_RDZV_ENDPOINT is"):
        launch.plan_launch(train, "tiny", CPU, environ={})
    plan = launch.plan_launch(train, "tiny", CPU, environ={launch.ENDPOINT: "10.0.0.1:29400"})
    assert (plan.needed, plan.endpoint, plan.run_id) == (True, "10.0.0.1:29400", "convnets-tiny")
    for bad in ("1m", "0", "-5", ""):
        environ = {launch.ENDPOINT: "h:1", launch.TIMEOUT: bad}
        with pytest.raises(ConvnetsError, match="TIMEOUT_S must be whole seconds above 0"):
            launch.plan_launch(train, "tiny", CPU, environ=environ)
    environ = {launch.ENDPOINT: "h:1", launch.TIMEOUT: "45"}
    assert launch.plan_launch(train, "tiny", CPU, environ=environ).timeout_s == 45


@pytest.mark.slow
def test_an_experiment_trains_in_two_processes_and_a_rerun_gives_the_same_bytes(
    mnist_repo, tmp_path
):
    """`dvc exp run -S train.processes=2`: rank 0 alone writes the files one process writes,
    `dvc exp show` has the param, and `dvc repro --force` of the stage gives the same bytes."""
    require_torchrun()
    repo = committed_run(mnist_repo, tmp_path / "repo")
    result = dvc(repo, "exp", "run", "-n", "two", "-S", "train.processes=2", "train@cnn")
    ran = result.stdout + result.stderr  # the stage's log lines are on stderr
    assert "launching 2 worker(s) on this machine, 1 machine(s)" in ran, ran
    assert ran.count("train cnn: best epoch") == 1, ran  # rank 1 trains but keeps nothing
    assert listing(repo / "reports/train/cnn") == listing(mnist_repo / "reports/train/cnn")
    metrics = json.loads((repo / "reports/train/cnn/metrics.json").read_text())
    assert metrics["best"]["ranks"] == 2 and metrics["best"]["threads"] >= 1
    shown = json.loads(dvc(repo, "exp", "show", "--json").stdout)
    exps = {
        exp["name"]: exp["revs"][0]["data"] for c in shown for exp in c.get("experiments") or []
    }
    assert exps["two"]["params"]["params.yaml"]["data"]["train"]["processes"] == 2
    first = digests(repo, CNN_OUTPUTS)
    dvc(repo, "repro", "--force", "--single-item", "train@cnn")
    assert digests(repo, CNN_OUTPUTS) == first


@pytest.mark.slow
def test_two_clones_as_two_machines_finish_one_run(mnist_repo, tmp_path):
    """The documented command in two clones at once, meeting at a rendezvous on 127.0.0.1:
    both finish, as one world of two ranks, with the same outputs on each."""
    require_torchrun()
    first = committed_run(mnist_repo, tmp_path / "node0")
    second = clone_run(first, tmp_path / "node1")
    env = {launch.ENDPOINT: f"127.0.0.1:{free_port()}", launch.TIMEOUT: "120"}
    command = ("exp", "run", "-S", "train.nodes=2", "train@cnn")
    machines = [start_dvc(repo, command, env) for repo in (first, second)]
    outputs = [finish(machine, timeout=400) for machine in machines]
    assert [machine.returncode for machine in machines] == [0, 0], outputs
    assert digests(first, CNN_OUTPUTS) == digests(second, CNN_OUTPUTS)
    metrics = json.loads((second / "reports/train/cnn/metrics.json").read_text())
    assert metrics["best"]["ranks"] == 2


@pytest.mark.slow
def test_a_machine_left_alone_fails_within_the_timeout(workdir):
    require_torchrun()
    set_train(workdir, nodes=2)
    env = {launch.ENDPOINT: f"127.0.0.1:{free_port()}", launch.TIMEOUT: "3"}
    start = time.monotonic()
    alone = start_train(workdir, **env)
    output = finish(alone, timeout=60)
    assert alone.returncode == 1
    assert "the 2 machines did not meet at 127.0.0.1:" in output and "within 3 s" in output, output
    assert time.monotonic() - start < 45
    assert not (workdir / "out").exists()


@pytest.mark.slow
def test_a_killed_worker_fails_the_stage_naming_its_rank(workdir):
    """SIGKILL to rank 1 mid-run: the stage exits 1 naming rank 1, the old checkpoint stays."""
    require_torchrun()
    set_train(workdir, processes=2, epochs=1000)
    (workdir / "out").mkdir()
    (workdir / "out/tiny.pt").write_bytes(b"the previous checkpoint")
    run_id = f"killed-{os.getpid()}"  # the victim is this test's worker, never another test's
    stage = start_train(workdir, **{launch.RUN_ID: run_id})
    victim = wait_for_rank(run_id, 1, after=workdir / "live/tiny/metrics.json")  # epoch 1 done
    os.kill(victim, signal.SIGKILL)
    output = finish(stage)
    assert stage.returncode == 1, output
    assert "training rank 1 was killed by SIGKILL and the other ranks were stopped" in output
    assert (workdir / "out/tiny.pt").read_bytes() == b"the previous checkpoint"


def wait_for_rank(run_id: str, rank: int, after: Path, timeout: float = 120) -> int:
    """The pid of run `run_id`'s worker of rank `rank`, once `after` exists."""
    wanted = {f"RANK={rank}".encode(), f"TORCHELASTIC_RUN_ID={run_id}".encode()}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if after.exists():
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                except OSError:
                    continue
                if wanted <= set(environ):
                    return int(pid)
        time.sleep(0.2)
    raise AssertionError(f"no rank {rank} worker after {timeout} s")
