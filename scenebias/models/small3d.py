"""The small 3D CNN of the default (synthetic-world) run, docs/design.md §6.

Four blocks of [Conv3d 3×3×3, BatchNorm3d, ReLU] with widths 16-32-64-64 (~182 k parameters with 8 classes), then
global average pooling and ``fc``. Small enough that the whole default DAG trains on a 2-core CPU in minutes.

Downsampling: block 1 keeps the resolution; blocks 2–4 halve H and W (stride 1,2,2); block 4 also halves T
(``temporal_stride_last=True``, the default). With the default 8×32×32 clips the maps are 8×32×32 → 8×16×16 →
8×8×8 → 4×4×4: three blocks see the full frame rate, where the action's motion lives, and the last block is cheaper.
A strided 3-tap convolution with padding 1 works for any T ≥ 1, so short clips do not break it.
``stem_stride=2`` makes block 1 halve H and W too: about 4× fewer MACs (the default run uses it so the whole
DAG fits in ~10 minutes on 2 cores; the 3×3 stem still reads every input pixel).
"""

from __future__ import annotations

import torch
from torch import nn

from scenebias.models.common import ActionNet

DEFAULT_WIDTHS: tuple[int, int, int, int] = (16, 32, 64, 64)


def conv_block(in_channels: int, out_channels: int, stride: tuple[int, int, int]) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False),
        nn.BatchNorm3d(out_channels),
        nn.ReLU(inplace=True),
    )


def block_strides(n_blocks: int, temporal_stride_last: bool, stem_stride: int = 1) -> list[tuple[int, int, int]]:
    strides = [(1, stem_stride, stem_stride)] + [(1, 2, 2)] * (n_blocks - 1)
    if temporal_stride_last and n_blocks > 1:
        strides[-1] = (2, 2, 2)
    return strides


class Small3DNet(ActionNet):
    def __init__(
        self,
        num_classes: int,
        widths: tuple[int, ...] = DEFAULT_WIDTHS,
        in_channels: int = 3,
        temporal_stride_last: bool = True,
        stem_stride: int = 1,
    ) -> None:
        super().__init__()
        if len(widths) < 1:
            raise ValueError("widths must name at least one block")
        channels = (in_channels, *widths)
        strides = block_strides(len(widths), temporal_stride_last, stem_stride)
        self.blocks = nn.Sequential(
            *(conv_block(c_in, c_out, s) for c_in, c_out, s in zip(channels[:-1], channels[1:], strides, strict=True))
        )
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.feature_dim = widths[-1]
        self.fc = nn.Linear(self.feature_dim, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv3d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.avgpool(self.blocks(x)), 1)
