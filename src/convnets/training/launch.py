"""`train.processes` and `train.nodes`: the train stage starts its own workers with PyTorch's
elastic launcher, the engine behind `torchrun`, so DVC tracks what several processes make.

Each worker runs the stage's own command again, finds RANK and WORLD_SIZE set, and trains its
shard (`distributed.py`). On one machine the workers meet at a rendezvous on localhost; across
machines each machine's stage joins torchrun's c10d rendezvous at CONVNETS_RDZV_ENDPOINT
(docs/scale.md says what each machine runs).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from convnets.config import TrainConfig
from convnets.errors import ConvnetsError
from convnets.threads import AUTO, available_cores

log = logging.getLogger(__name__)

ENDPOINT = "CONVNETS_RDZV_ENDPOINT"  # host:port of the first machine's rendezvous
RUN_ID = "CONVNETS_RDZV_ID"  # the same on every machine of one run
TIMEOUT = "CONVNETS_RDZV_TIMEOUT_S"  # how long to wait for the other machines
DEFAULT_TIMEOUT_S = 300


@dataclass(frozen=True)
class LaunchPlan:
    """How many workers this machine starts, and where the machines of the run meet."""

    processes: int  # workers on this machine
    nodes: int  # machines in the run
    endpoint: str  # host:port of the c10d rendezvous (localhost:0 on one machine: any free port)
    run_id: str
    timeout_s: int

    @property
    def needed(self) -> bool:
        """False for one process on one machine: the stage trains in its own process."""
        return self.processes * self.nodes > 1


def under_launcher(environ: Mapping[str, str] = os.environ) -> bool:
    """True in a worker (ours or torchrun's): it trains rather than launching again."""
    return "WORLD_SIZE" in environ


def resolve_processes(setting: int | str, device: torch.device) -> int:
    """`auto` is one per CUDA device (one on a CPU); a count above the machine's is refused."""
    if device.type == "cuda":
        available, what = torch.cuda.device_count(), "CUDA devices"
    else:
        available, what = available_cores(), "cores this process may use"
    count = (available if device.type == "cuda" else 1) if setting == AUTO else int(setting)
    if count > available:
        raise ConvnetsError(
            f"train.processes is {count}, but this machine has {available} {what}: more would "
            f"share them and run slower. Fix: `dvc exp run -S train.processes={available}` "
            f"or fewer (auto: one per CUDA device, else 1)."
        )
    return count


def plan_launch(
    train: TrainConfig, variant: str, device: torch.device, environ: Mapping[str, str] = os.environ
) -> LaunchPlan:
    """The launch a variant's resolved `train` group asks for on this machine."""
    processes = resolve_processes(train.processes, device)
    endpoint = environ.get(ENDPOINT, "")
    if train.nodes > 1 and not endpoint:
        raise ConvnetsError(
            f"train.nodes is {train.nodes}, but {ENDPOINT} is not set, so this machine cannot "
            f"find the others. Fix: on every machine set {ENDPOINT}=<first machine's "
            f"address>:29400 (and the same {RUN_ID}), or `dvc exp run -S train.nodes=1`."
        )
    return LaunchPlan(
        processes=processes,
        nodes=train.nodes,
        endpoint=endpoint if train.nodes > 1 else "localhost:0",
        run_id=environ.get(RUN_ID, f"convnets-{variant}"),
        timeout_s=_timeout(environ),
    )


def _timeout(environ: Mapping[str, str]) -> int:
    """CONVNETS_RDZV_TIMEOUT_S: whole seconds above 0 (torch gives up at once on 0)."""
    raw = environ.get(TIMEOUT, str(DEFAULT_TIMEOUT_S))
    if not raw.strip().isdigit() or int(raw) == 0:
        raise ConvnetsError(
            f"{TIMEOUT} must be whole seconds above 0; got {raw!r}. Fix: e.g. {TIMEOUT}=300."
        )
    return int(raw)


def launch(plan: LaunchPlan, command: str, options: Mapping[str, object]) -> None:
    """Run `convnets <command> --<option>=<value> ...` in `plan.processes` workers here, as one
    run over `plan.nodes` machines; a worker that fails (or is killed) stops the run, named by
    its rank."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.elastic.rendezvous.api import RendezvousError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    config = LaunchConfig(
        min_nodes=plan.nodes,
        max_nodes=plan.nodes,
        nproc_per_node=plan.processes,
        run_id=plan.run_id,
        rdzv_backend="c10d",
        rdzv_endpoint=plan.endpoint,
        rdzv_configs={"join_timeout": plan.timeout_s, "read_timeout": plan.timeout_s},
        max_restarts=0,  # a failed worker fails the stage: a restart would hide it
        monitor_interval=0.5,
    )
    log.info("launching %d worker(s) on this machine, %d machine(s)", plan.processes, plan.nodes)
    try:
        argv = [f"--{name}={value}" for name, value in options.items()]
        elastic_launch(config, sys.executable)("-m", "convnets.cli", command, *argv)
    except ChildFailedError as exc:
        failed = _failed(exc)
        raise ConvnetsError(
            f"{failed}. Fix: read that rank's error above (a kill from outside, such as the "
            f"out-of-memory killer, leaves none) and rerun."
        ) from None
    except RendezvousError as exc:
        raise ConvnetsError(
            f"the {plan.nodes} machines did not meet at {plan.endpoint} (run {plan.run_id!r}) "
            f"within {plan.timeout_s} s ({type(exc).__name__}). Fix: start the stage on every "
            f"machine with the same {ENDPOINT} and {RUN_ID}, reachable from each, or raise "
            f"{TIMEOUT}."
        ) from None


def _failed(error) -> str:
    """'training rank 1 was killed by SIGKILL; the other ranks were stopped': the first rank to
    fail (by time) is the cause, and the launcher stops the rest of the run."""
    rank, failure = error.get_first_failure()
    code = failure.exitcode
    how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with {code}"
    others = " and the other ranks were stopped" if len(error.failures) > 1 else ""
    return f"training rank {rank} {how}{others}; no output was written"
