"""How the workflow launches its jobs: the environment every job starts with, and which jobs start first.

Both are set once, where the workflow starts (the Snakefile), not typed in each rule:

- **Allocator.** glibc's malloc hands blocks above its mmap threshold (128 KiB, rising to 32 MiB as it adapts)
  back to the kernel when they are freed, and trims the heap's free top above 128 KiB. A training step allocates
  and frees the same activation and gradient buffers every iteration, so every page of them is faulted in again,
  zero-filled by the kernel, on every step. Raising both thresholds keeps freed memory in the process for the next
  step: the same allocations, no faults, identical results (docs/benchmarks.md "The allocator", measured with
  bench/allocator.py). These are glibc's own environment variables (no package to install; other C libraries
  ignore them); a value already in the environment wins, so a user can still tune or unset them
  (`MALLOC_MMAP_THRESHOLD_= snakemake ...` gives glibc's default back).
- **Order.** Snakemake starts the ready jobs of the highest `priority:` first. On few cores the run's length is
  set by its longest chain of jobs: pretraining runs are by far the longest, the mask-confusion variants twice as
  long as the others, and staged variants (init_from) wait for the run they start from. A pretraining job's
  priority is the estimated length of the chain it starts (its own cost plus the longest chain of variants staged
  from it), so the longest start first and the short jobs (fine-tuning, measures) fill the cores at the end instead
  of one long run ending alone on one core.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

# Bytes. 1 GiB is above any one buffer of the default run and of the paper's 3D-ResNet-18 step at batch 32
# (the largest activation is 32 x 64 x 16 x 56 x 56 floats = 400 MiB); top pad grows the heap in 256 MiB steps.
ALLOCATOR_ENVIRONMENT: dict[str, str] = {
    "MALLOC_MMAP_THRESHOLD_": str(1 << 30),
    "MALLOC_TRIM_THRESHOLD_": str(1 << 30),
    "MALLOC_TOP_PAD_": str(1 << 28),
}


def job_environment(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The variables to add to the workflow's environment (which every job inherits, locally and through a cluster
    executor, whose jobs run this Snakefile again): those of ALLOCATOR_ENVIRONMENT that are not set already."""
    return {key: value for key, value in ALLOCATOR_ENVIRONMENT.items() if key not in environ}


PRETRAIN_PRIORITY = 1000  # above every other job (priority 0), so pretraining starts as soon as its inputs exist


def pretrain_cost(variant: dict) -> float:
    """Relative cost of a pretraining run from its settings: epochs, doubled by the mask-confusion loss's second
    pass over the masked clips, and a little more with the scene adversary (docs/benchmarks.md: baseline and
    scene_adv 134-172 s, mask_conf 262-318 s, sdn 327-356 s for 12 epochs in the default run)."""
    cost = float(variant["epochs"])
    if variant["mask_weight"] > 0:
        cost *= 2.0
    if variant["scene_weight"] > 0:
        cost *= 1.1
    return cost


def pretrain_priorities(settings: Mapping[str, dict], init_from: Mapping[str, str | None]) -> dict[str, int]:
    """Priority per pretraining variant: PRETRAIN_PRIORITY plus the cost of the longest chain of runs that starts
    with it (itself, then the variants staged from it). `settings`: variant -> its training settings;
    `init_from`: variant -> the variant it starts from (None)."""
    staged: dict[str, list[str]] = {name: [] for name in settings}
    for name, parent in init_from.items():
        if parent is not None:
            staged[parent].append(name)

    def chain(name: str) -> float:
        return pretrain_cost(settings[name]) + max((chain(child) for child in staged[name]), default=0.0)

    return {name: PRETRAIN_PRIORITY + round(chain(name)) for name in settings}
