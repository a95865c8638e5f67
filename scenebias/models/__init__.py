"""Model registry: ``build_model(name, num_classes, **kwargs)`` returns an :class:`ActionNet`.

Names (docs/design.md §2, §6): ``hara_resnet`` (the paper's 3D-ResNet; kwargs depth, shortcut, width, in_channels,
detach_shortcut_a), ``r3d_18`` and ``r2plus1d_18`` (torchvision, never with downloaded weights; no kwargs), and
``small3d`` (the default run's CNN; kwargs widths, in_channels, temporal_stride_last).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scenebias.models.common import (
    ActionNet,
    TorchvisionVideoNet,
    count_macs,
    count_parameters,
    load_hara_checkpoint,
    load_state_dict_strict,
    replace_classifier,
    save_checkpoint,
    strip_module_prefix,
)
from scenebias.models.hara_resnet import HaraResNet
from scenebias.models.small3d import Small3DNet


def _torchvision_builder(factory_name: str) -> Callable[..., ActionNet]:
    def build(num_classes: int) -> ActionNet:
        # Imported on use: torchvision costs seconds per process, and the default run never needs it.
        from torchvision.models import video as tv_video

        # weights=None: random init, nothing is downloaded (the workflow must run offline).
        return TorchvisionVideoNet(getattr(tv_video, factory_name)(weights=None), num_classes)

    return build


_BUILDERS: dict[str, Callable[..., ActionNet]] = {
    "hara_resnet": HaraResNet,
    "r3d_18": _torchvision_builder("r3d_18"),
    "r2plus1d_18": _torchvision_builder("r2plus1d_18"),
    "small3d": Small3DNet,
}
MODEL_NAMES: tuple[str, ...] = tuple(_BUILDERS)


def build_model(name: str, num_classes: int, **kwargs: Any) -> ActionNet:
    """Build a registered model with a ``num_classes``-way ``fc``; unknown names or kwargs raise."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; choose one of {list(MODEL_NAMES)}")
    return _BUILDERS[name](num_classes=num_classes, **kwargs)


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
    "load_state_dict_strict",
    "replace_classifier",
    "save_checkpoint",
    "strip_module_prefix",
]
