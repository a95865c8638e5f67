"""Processes and devices: the torchrun process group, this process's device and seeds, and sums over ranks."""

from __future__ import annotations

import hashlib
import logging
import os
import random
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from scenebias.device import resolve_device
from scenebias.settings import TrainSettings

log = logging.getLogger(__name__)


@dataclass
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str) -> Dist:
    """Join the torchrun process group when launched by torchrun (WORLD_SIZE > 1); gloo on CPU, nccl on CUDA."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    backend = "nccl" if device.startswith("cuda") else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def setup_process(settings: TrainSettings) -> tuple[Dist, str]:
    """Threads, process group, seeds and this process's device (decided here, once, from settings.device)."""
    torch.set_num_threads(settings.threads)
    device = resolve_device(settings.device)
    ctx = init_distributed(device)
    if device == "cuda" and ctx.world_size > 1:
        device = f"cuda:{ctx.local_rank}"
    if device.startswith("cuda"):
        torch.cuda.set_device(device)
        torch.backends.cudnn.benchmark = settings.cudnn_benchmark
    seed_everything(settings.seed)
    return ctx, device


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def all_sum(values: list[float], ctx: Dist, device: str) -> list[float]:
    if ctx.world_size == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def rank_states(model: nn.Module, optimizer: torch.optim.Optimizer, ctx: Dist) -> list[dict]:
    """Every rank's learning rate and a hash of its parameters, gathered on all ranks: DDP must keep them
    identical (the gradients are averaged; the schedules step on all-reduced metrics)."""
    digest = hashlib.sha256()
    for param in model.parameters():
        digest.update(param.detach().float().cpu().numpy().tobytes())
    mine = {"rank": ctx.rank, "lr": optimizer.param_groups[0]["lr"], "weights_sha256": digest.hexdigest()[:16]}
    if ctx.world_size == 1:
        return [mine]
    gathered: list = [None] * ctx.world_size
    dist.all_gather_object(gathered, mine)
    if len({(r["lr"], r["weights_sha256"]) for r in gathered}) > 1:
        log.error("DDP ranks disagree at the end of training: %s", gathered)
    return gathered


def barrier(ctx: Dist) -> None:
    """Wait for every rank (nothing to wait for with one process)."""
    if ctx.world_size > 1:
        dist.barrier()


def leave_process_group(ctx: Dist) -> None:
    """The end of a run: wait for every rank, then leave the process group."""
    if ctx.world_size > 1:
        dist.barrier()
        dist.destroy_process_group()
