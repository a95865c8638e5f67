"""Hara et al.'s 3D-ResNet (BasicBlock family), the paper's backbone (docs/design.md §2).

Written from the architecture description of "Can spatiotemporal 3D CNNs retrace the history of 2D CNNs and
ImageNet?" (kenshohara/3D-ResNets-PyTorch, copied into vt-vl-lab/SDN as models/resnet.py). Parameter names follow
that code's checkpoints (``conv1``, ``bn1``, ``layer1.0.conv1``, ``layer1.0.bn1``, ``layer2.0.downsample.0`` for
shortcut B, ..., ``fc``) so its Kinetics checkpoints load with :func:`load_hara_checkpoint`.

Shape walk for ResNet-18 on a 16×112×112 clip: conv1 (stride 1,2,2) 16×56×56 → max-pool 8×28×28 → layer1
8×28×28 → layer2 4×14×14 → layer3 2×7×7 → layer4 1×4×4 → global average pool → 8·width (512) → fc.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from scenebias.models.common import ActionNet

STAGE_BLOCKS: dict[int, tuple[int, int, int, int]] = {10: (1, 1, 1, 1), 18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}
Shortcut = Literal["A", "B"]


def conv3x3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv3d:
    # No bias: every convolution is followed by BatchNorm, which has its own shift.
    return nn.Conv3d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)


class ZeroPadShortcut(nn.Module):
    """Shortcut type A: subsample by ``stride`` and append zero channels; no parameters.

    Hara's ``downsample_basic_block`` concatenates ``out.data``, which cuts the gradient through this shortcut (the
    backbone then learns only through the residual branch of the three downsampling blocks). ``detach=True``
    reproduces that exactly; the default lets the identity part carry gradient, as a shortcut normally does.
    """

    def __init__(self, out_channels: int, stride: int, detach: bool = False) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.stride = stride
        self.detach = detach

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # avg_pool3d with kernel 1 is plain strided subsampling, as in Hara's code.
        out = F.avg_pool3d(x, kernel_size=1, stride=self.stride)
        if self.detach:
            out = out.detach()
        pad_shape = (out.shape[0], self.out_channels - out.shape[1], *out.shape[2:])
        return torch.cat([out, out.new_zeros(pad_shape)], dim=1)


def make_shortcut(
    in_channels: int, out_channels: int, stride: int, shortcut: Shortcut, detach_a: bool
) -> nn.Module | None:
    """The projection a block needs when it changes resolution or width; None when identity suffices."""
    if stride == 1 and in_channels == out_channels:
        return None
    if shortcut == "A":
        return ZeroPadShortcut(out_channels, stride, detach=detach_a)
    if shortcut == "B":
        # Named downsample.0 / downsample.1 in Hara's checkpoints (an nn.Sequential).
        return nn.Sequential(
            nn.Conv3d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
            nn.BatchNorm3d(out_channels),
        )
    raise ValueError(f"shortcut must be 'A' or 'B', got {shortcut!r}")


class BasicBlock(nn.Module):
    """Two 3×3×3 convolutions with a residual connection (the first may stride)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, downsample: nn.Module | None) -> None:
        super().__init__()
        self.conv1 = conv3x3x3(in_channels, out_channels, stride)
        self.bn1 = nn.BatchNorm3d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3x3(out_channels, out_channels)
        self.bn2 = nn.BatchNorm3d(out_channels)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + residual)


class HaraResNet(ActionNet):
    """3D-ResNet-{10,18,34} of Hara et al.: 7×7×7 stem (stride 1,2,2) + 3×3×3 max-pool, four BasicBlock stages.

    ``width`` is the first stage's channel count (64 in the paper); the stages use width, 2w, 4w, 8w and the pooled
    feature has 8·width dimensions. ``detach_shortcut_a`` reproduces the original code's gradient cut (see
    :class:`ZeroPadShortcut`).
    """

    def __init__(
        self,
        num_classes: int,
        depth: int = 18,
        shortcut: Shortcut = "A",
        width: int = 64,
        in_channels: int = 3,
        detach_shortcut_a: bool = False,
    ) -> None:
        super().__init__()
        if depth not in STAGE_BLOCKS:
            raise ValueError(f"depth must be one of {sorted(STAGE_BLOCKS)}, got {depth}")
        if shortcut not in ("A", "B"):
            raise ValueError(f"shortcut must be 'A' or 'B', got {shortcut!r}")
        self.depth = depth
        self.shortcut = shortcut
        self.conv1 = nn.Conv3d(in_channels, width, kernel_size=7, stride=(1, 2, 2), padding=3, bias=False)
        self.bn1 = nn.BatchNorm3d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d(kernel_size=3, stride=2, padding=1)
        blocks = STAGE_BLOCKS[depth]
        widths = (width, 2 * width, 4 * width, 8 * width)
        channels = width
        stages = []
        for index, (n_blocks, stage_width) in enumerate(zip(blocks, widths, strict=True)):
            stride = 1 if index == 0 else 2
            stages.append(self._make_stage(channels, stage_width, n_blocks, stride, shortcut, detach_shortcut_a))
            channels = stage_width
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.feature_dim = channels
        self.fc = nn.Linear(channels, num_classes)
        self._init_weights()

    @staticmethod
    def _make_stage(
        in_channels: int, out_channels: int, n_blocks: int, stride: int, shortcut: Shortcut, detach_a: bool
    ) -> nn.Sequential:
        first = BasicBlock(
            in_channels, out_channels, stride, make_shortcut(in_channels, out_channels, stride, shortcut, detach_a)
        )
        rest = [BasicBlock(out_channels, out_channels, 1, None) for _ in range(n_blocks - 1)]
        return nn.Sequential(first, *rest)

    def _init_weights(self) -> None:
        # Hara's initialisation: He (fan_out) for convolutions, BN as identity.
        for module in self.modules():
            if isinstance(module, nn.Conv3d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm3d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)
