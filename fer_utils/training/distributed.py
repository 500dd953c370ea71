"""Training in several processes under torchrun (DistributedDataParallel): who is who, and what they share."""

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .config import ConfigError, TrainConfig


@dataclass
class Ranks:
    """The processes that train together (torchrun sets RANK, LOCAL_RANK and WORLD_SIZE); one process is rank 0 of
    1. Rank 0 alone validates, writes and prints."""

    rank: int = 0
    local_rank: int = 0
    world: int = 1
    device: torch.device | None = None  # where collective operations put their tensors
    order: torch.Generator | None = None  # the shuffling stream that all processes share

    @property
    def main(self) -> bool:
        return self.rank == 0

    def furthest(self, value: float) -> float:
        """The largest ``value`` over all processes."""
        tensor = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
        return float(tensor)

    def total(self, values: list[float]) -> list[float]:
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return tensor.tolist()

    def gather(self, value) -> list:
        out = [None] * self.world
        dist.all_gather_object(out, value)
        return out

    def barrier(self) -> None:
        """Wait for the others (nothing to wait for in one process)."""
        if self.world > 1:
            dist.barrier()

    def say(self, *args, **kwargs) -> None:
        """Print from rank 0 only."""
        if self.main:
            print(*args, **kwargs)


def join_processes(config: TrainConfig, device: torch.device) -> tuple[Ranks, torch.device]:
    """Join the torchrun process group when there is one (gloo on the CPU, NCCL on CUDA); each process trains on
    its own device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Ranks(), device
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"several processes train on CUDA or the CPU, not on {device.type}")
    if config.batch_size % world:
        raise ConfigError(f"batch_size {config.batch_size} is the global batch and must divide among {world} "
                          f"processes")
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    order = torch.Generator(device=device).manual_seed(config.seed)
    return Ranks(rank, local_rank, world, device, order), device


def leave_processes(ranks: Ranks) -> None:
    if ranks.world > 1:
        dist.destroy_process_group()
