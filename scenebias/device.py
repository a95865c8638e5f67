"""The one place where the device setting `auto` becomes a device."""

from __future__ import annotations


def resolve_device(device: str) -> str:
    """`auto` -> `cuda` when PyTorch sees a GPU, else `cpu`; any other value (`cpu`, `cuda`, `cuda:1`) as given."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
