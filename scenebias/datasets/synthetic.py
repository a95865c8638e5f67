"""Adapter for the synthetic world's datasets (written by scenebias.synth.world in UCF101's list format)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from scenebias.datasets.ucf_lists import read_ucf_style


def dataset_dirs(world_root: Path, name: str) -> tuple[Path, Path]:
    """(video root, list folder) of a rendered synthetic dataset."""
    return world_root / name / "videos", world_root / name / "lists"


def read_synthetic(world_root: Path, name: str) -> pd.DataFrame:
    _, list_dir = dataset_dirs(world_root, name)
    return read_ucf_style(list_dir)
