"""The interface every backbone follows, the torchvision wrappers, and checkpoint helpers.

Every model is an :class:`ActionNet`: ``forward(x)`` takes a float clip batch ``(B, 3, T, H, W)`` and returns
``(logits, feature)``, where ``feature`` is the pooled vector the classifier ``fc`` reads. The debiasing losses
(docs/design.md §2: scene adversary behind a GRL, human-mask confusion) need that feature, so every backbone returns it
rather than each training loop reaching into a model's internals.
"""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:  # importing torchvision costs seconds per process; only the wrappers below need it
    from torchvision.models.video.resnet import VideoResNet

MODULE_PREFIX = "module."  # what nn.DataParallel / DistributedDataParallel put before every key
# A BatchNorm counter that checkpoints from PyTorch < 0.4.1 (e.g. the 3D-ResNets-PyTorch Kinetics files) lack.
BN_COUNTER_SUFFIX = "num_batches_tracked"


class ActionNet(nn.Module):
    """Base class: subclasses set ``feature_dim`` and ``fc`` and implement :meth:`forward_features`."""

    feature_dim: int
    fc: nn.Linear

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) clip batch -> (B, feature_dim) pooled feature."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feature = self.forward_features(x)
        return self.fc(feature), feature


class TorchvisionVideoNet(ActionNet):
    """torchvision's ``r3d_18`` / ``r2plus1d_18`` behind the :class:`ActionNet` interface.

    The torchvision modules are adopted under their own names (``stem``, ``layer1`` … ``avgpool``, ``fc``), so the
    state dict keeps torchvision's layout and a torchvision Kinetics-400 weights file still loads (its ``fc`` left
    out for a new label set). Note this is not the paper's backbone (docs/design.md §2: a 3×7×7 stem with no
    max-pool, ~5× the MACs of Hara's 3D-ResNet-18).
    """

    def __init__(self, net: VideoResNet, num_classes: int) -> None:
        super().__init__()
        self.stem = net.stem
        self.layer1 = net.layer1
        self.layer2 = net.layer2
        self.layer3 = net.layer3
        self.layer4 = net.layer4
        self.avgpool = net.avgpool
        self.feature_dim = net.fc.in_features
        self.fc = nn.Linear(self.feature_dim, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of the convolutions and linear layers for one batch of ``input_shape``.

    Runs the model on the ``meta`` device (shapes only, no arithmetic), so it costs nothing even for big models.
    Norms, pooling and activations are left out, as in the usual GMAC figures (docs/design.md §2 quotes ~8.3 G for
    Hara's ResNet-18 and ~40.7 G for torchvision's r3d_18 on one 16×112×112 clip).
    """
    probe = _meta_copy(model)
    total = 0

    def conv_hook(module: nn.Conv3d | nn.Conv2d, _inputs: Any, output: torch.Tensor) -> None:
        nonlocal total
        per_output = module.in_channels // module.groups * int(torch.tensor(module.kernel_size).prod())
        total += output.numel() * per_output

    def linear_hook(module: nn.Linear, _inputs: Any, output: torch.Tensor) -> None:
        nonlocal total
        total += output.numel() * module.in_features

    handles = []
    for module in probe.modules():
        if isinstance(module, nn.Conv3d | nn.Conv2d):
            handles.append(module.register_forward_hook(conv_hook))
        elif isinstance(module, nn.Linear):
            handles.append(module.register_forward_hook(linear_hook))
    probe.eval()
    with torch.no_grad():
        probe(torch.empty(input_shape, device="meta"))
    for handle in handles:
        handle.remove()
    return total


def _meta_copy(model: nn.Module) -> nn.Module:
    probe = copy.deepcopy(model)
    return probe.to_empty(device="meta")


# ----------------------------------------------------------------------------------------------------------------
# checkpoints


def save_checkpoint(path: str | os.PathLike, model: nn.Module, extra: Mapping[str, Any] | None = None) -> Path:
    """Save ``{'state_dict': ..., **extra}`` atomically: a temp file in the same folder, then ``os.replace``.

    Atomic because training jobs are killed and resumed (docs/design.md §3): a reader never sees half a file.
    """
    extra = dict(extra or {})
    if "state_dict" in extra:
        raise ValueError("extra must not contain 'state_dict'; the model's weights are saved under that key")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"state_dict": model.state_dict(), **extra}
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def strip_module_prefix(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove the leading ``module.`` that (Distributed)DataParallel adds to every key."""
    return {(k[len(MODULE_PREFIX) :] if k.startswith(MODULE_PREFIX) else k): v for k, v in state_dict.items()}


def read_weights(path: str | os.PathLike, what: str = "checkpoint") -> Any:
    """`torch.load(path, weights_only=True)` on CPU, turning torch's unreadable-file errors (zip, EOF, pickle),
    which do not name the file, into a ValueError that does and says what to check."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise ValueError(
            f"{path}: cannot be read as a PyTorch {what} ({type(exc).__name__}: {exc}); the file is truncated, "
            "corrupt or not a PyTorch file: compare its sha256 with the published one"
        ) from exc


def load_state_dict_strict(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> None:
    """Load every tensor of ``model`` from ``state_dict`` or fail; never a silent partial load.

    Keys lose a leading ``module.``. Missing keys, unexpected keys and shape mismatches raise one ValueError that
    lists them all. The only tolerated gap is a BatchNorm ``num_batches_tracked`` counter absent from the file:
    checkpoints written before PyTorch 0.4.1 (the public 3D-ResNets-PyTorch ones) have none, it is set to 0, and it
    matters only for BN with ``momentum=None``, which no model here uses.
    """
    incoming = strip_module_prefix(state_dict)
    expected = model.state_dict()
    missing = [k for k in expected if k not in incoming and not k.endswith(BN_COUNTER_SUFFIX)]
    unexpected = [k for k in incoming if k not in expected]
    mismatched = [
        f"{k}: file {tuple(v.shape)} vs model {tuple(expected[k].shape)}"
        for k, v in incoming.items()
        if k in expected and tuple(v.shape) != tuple(expected[k].shape)
    ]
    if missing or unexpected or mismatched:
        raise ValueError(
            "state dict does not match the model:"
            f"\n  missing keys: {missing}\n  unexpected keys: {unexpected}\n  shape mismatches: {mismatched}"
        )
    for key in expected:
        if key.endswith(BN_COUNTER_SUFFIX) and key not in incoming:
            incoming[key] = torch.zeros_like(expected[key])
    model.load_state_dict(incoming, strict=True)


def load_hara_checkpoint(model: nn.Module, path: str | os.PathLike, drop_fc: bool) -> dict[str, Any]:
    """Load a 3D-ResNets-PyTorch checkpoint (``{'arch', 'state_dict' with 'module.' keys, 'epoch', 'optimizer'}``).

    ``drop_fc=True`` skips the file's ``fc.*`` and keeps the model's own classifier (fine-tuning on another label
    set, e.g. Kinetics-400 weights into a 200-class Mini-Kinetics model); everything else must match strictly.
    Loaded with ``weights_only=True``: a checkpoint cannot run code. Returns the file's other fields except the
    optimizer state (``arch``, ``epoch``, ...) for logging.
    """
    checkpoint = torch.load(Path(path), map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, Mapping) or "state_dict" not in checkpoint:
        raise ValueError(f"{path}: not a 3D-ResNets-PyTorch checkpoint (a dict with a 'state_dict' key)")
    state_dict = strip_module_prefix(checkpoint["state_dict"])
    if drop_fc:
        state_dict = {k: v for k, v in state_dict.items() if not k.startswith("fc.")}
        state_dict.update({f"fc.{k}": v for k, v in model.fc.state_dict().items()})
    load_state_dict_strict(model, state_dict)
    return {k: v for k, v in checkpoint.items() if k not in ("state_dict", "optimizer")}
