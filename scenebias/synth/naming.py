"""Names of the synthetic datasets: the source, its p_bias sweep re-renderings (source_pbNNN), and targets.

Dependency-free, so the renderer, the config checks and the workflow's planning can all share it.
"""

from __future__ import annotations

SWEEP_PREFIX = "source_pb"


def sweep_dataset_name(p_bias: float) -> str:
    """The sweep dataset rendered at p_bias: source_pbNNN with NNN = 100 x p_bias."""
    return f"{SWEEP_PREFIX}{round(p_bias * 100):03d}"


def is_source_dataset(name: str) -> bool:
    """The source set, or one of its p_bias sweep re-renderings (they share the source's classes and sets)."""
    suffix = name.removeprefix(SWEEP_PREFIX)
    return name == "source" or (suffix != name and len(suffix) == 3 and suffix.isdigit())
