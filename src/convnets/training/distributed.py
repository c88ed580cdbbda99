"""DistributedDataParallel when started by `torchrun`; a world of one otherwise.

`torchrun --nproc-per-node N -m convnets.cli train ...` sets RANK and WORLD_SIZE; we then join a
process group (gloo on CPU, nccl on GPU), each rank trains on its shard, DDP averages gradients,
and only rank 0 writes outputs.
"""

from __future__ import annotations

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

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def wrap(self, model: nn.Module) -> nn.Module:
        """The module to train: DDP around `model` when there are several ranks."""
        if self.size == 1:
            return model
        device_ids = [self.local_rank] if next(model.parameters()).is_cuda else None
        return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)

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
    world = World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))
    if device.type == "cuda":
        torch.cuda.set_device(world.local_rank)
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return world
