"""A trained model's file (model.pt): the network's weights, its debiasing heads and the settings it was trained
with, so that evaluation, bias measures and later training stages rebuild it exactly."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from scenebias.models.common import ActionNet, load_state_dict_strict, save_checkpoint
from scenebias.models.registry import build_model
from scenebias.settings import TrainSettings


def save_model(path: Path, net: ActionNet, heads: dict[str, dict], settings: TrainSettings, extra: dict) -> None:
    """model.pt: `net`'s weights (strictly reloadable by `load_model`), the state dicts of the heads trained with it
    (name -> state dict: "scene", "mask"), the architecture and the full training settings, plus `extra`."""
    save_checkpoint(
        path,
        net,
        {
            "heads": heads,
            "model": settings.model,
            "model_kwargs": settings.model_kwargs,
            "num_classes": net.fc.out_features,
            "settings": asdict(settings),
            **extra,
        },
    )


def load_model(path: Path) -> tuple[ActionNet, dict]:
    """A trained model (strictly loaded) and its checkpoint record (settings, heads, classes)."""
    record = torch.load(path, map_location="cpu", weights_only=True)
    net = build_model(record["model"], record["num_classes"], **record["model_kwargs"])
    load_state_dict_strict(net, record["state_dict"])
    return net.eval(), record
