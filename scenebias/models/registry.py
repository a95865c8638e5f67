"""The model registry: ``build_model(name, num_classes, **kwargs)`` returns an :class:`ActionNet`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scenebias.models.common import ActionNet, TorchvisionVideoNet
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
