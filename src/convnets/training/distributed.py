"""DistributedDataParallel when started by a launcher; a world of one otherwise.

The train stage's own launcher (`launch.py`, for `train.processes` and `train.nodes`) and a
hand-typed `torchrun` both set RANK, WORLD_SIZE and LOCAL_RANK; we then join a process group
(gloo on CPU, nccl on GPU), each rank trains on its shard and DDP averages gradients. Every rank
ends with the same weights and the same (summed) epoch figures, so the first rank of each machine
writes the outputs: on one machine, rank 0 alone.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1  # ranks on this machine

    @property
    def is_main(self) -> bool:
        """Rank 0: decides what every rank follows (the precision) and shows progress."""
        return self.rank == 0

    @property
    def writes(self) -> bool:
        """The first rank of its machine: each machine's `dvc repro` needs the outputs there."""
        return self.local_rank == 0

    def threads(self, threads: int) -> int:
        """Each rank's share of `threads` (the machine's), so the ranks never oversubscribe the
        cores: they compute there on a CPU, and build their batches there on a GPU."""
        return max(1, threads // self.local_size)

    def total(self, value: torch.Tensor) -> torch.Tensor:
        """`value` summed over every rank (itself in a world of one)."""
        if self.size > 1:
            dist.all_reduce(value)
        return value

    def wrap(self, model: nn.Module) -> nn.Module:
        """The module to train: DDP around `model` when there are several ranks."""
        if self.size == 1:
            return model
        device_ids = [self.local_rank] if next(model.parameters()).is_cuda else None
        return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)

    def share_buffers(self, model: nn.Module) -> None:
        """Rank 0's buffers (BatchNorm's running statistics, which each rank updates from its own
        shard) on every rank, as DDP's next forward would do: validation and the kept weights are
        then the same on every rank."""
        if self.size > 1:
            for buffer in model.buffers():
                dist.broadcast(buffer, src=0)

    def from_main(self, value):
        """Rank 0's `value` on every rank (`value` itself in a world of one)."""
        if self.size == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def close(self) -> None:
        if self.size > 1 and dist.is_initialized():
            dist.destroy_process_group()


def init_world(device: torch.device) -> World:
    """Join the process group that torchrun describes in the environment, if any."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World()
    local = int(os.environ.get("LOCAL_RANK", "0")), int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    world = World(int(os.environ["RANK"]), size, *local)
    if not world.is_main:  # every rank logs the same epochs: rank 0 says it once
        logging.getLogger("convnets").setLevel(logging.WARNING)
    if device.type == "cuda":
        torch.cuda.set_device(world.local_rank)
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return world
