"""Networks: the registry, the interface every backbone follows, checkpoint helpers and saved models.

``build_model(name, num_classes, **kwargs)`` returns an :class:`ActionNet`. Names (docs/design.md §2, §6):
``hara_resnet`` (the paper's 3D-ResNet; kwargs depth, shortcut, width, in_channels, detach_shortcut_a), ``r3d_18``
and ``r2plus1d_18`` (torchvision, never with downloaded weights; no kwargs), and ``small3d`` (the default run's CNN;
kwargs widths, in_channels, temporal_stride_last). ``save_model`` / ``load_model`` write and read a trained model's
file (model.pt).
"""

from __future__ import annotations

from scenebias.models.common import (
    ActionNet,
    TorchvisionVideoNet,
    count_macs,
    count_parameters,
    load_hara_checkpoint,
    load_state_dict_strict,
    save_checkpoint,
    strip_module_prefix,
)
from scenebias.models.hara_resnet import HaraResNet
from scenebias.models.registry import MODEL_NAMES, build_model
from scenebias.models.saved import load_model, save_model
from scenebias.models.small3d import Small3DNet

__all__ = [
    "MODEL_NAMES",
    "ActionNet",
    "HaraResNet",
    "Small3DNet",
    "TorchvisionVideoNet",
    "build_model",
    "count_macs",
    "count_parameters",
    "load_hara_checkpoint",
    "load_model",
    "load_state_dict_strict",
    "save_checkpoint",
    "save_model",
    "strip_module_prefix",
]
