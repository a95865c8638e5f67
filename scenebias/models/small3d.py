"""The small 3D CNN of the default (synthetic-world) run, docs/design.md §6.

Four blocks of [Conv3d 3×3×3, BatchNorm3d, ReLU] with widths 16-32-64-64 (~182 k parameters with 8 classes), then
global average pooling and ``fc``. Small enough that the whole default DAG trains on a 2-core CPU in minutes.

Two ways to shrink the maps (``downsample``):

- ``"pool"`` (the default run): every convolution has stride 1 and a max-pool follows each block but the last —
  (1,2,2) after block 1, (2,2,2) after the others. With 8×32×32 clips the maps are 8×32×32 → 8×16×16 → 4×8×8 →
  2×4×4. Max-pooling keeps a thin limb that a strided convolution can step over: on the scene-biased world the
  strided net learned the scene alone (bias-conflicting accuracy ~0 % with the mask-confusion loss, against ~50–70 %
  with pooling; docs/design.md §6). It costs ~2.5–3× more per step.
- ``"stride"``: block 1 keeps the resolution (``stem_stride=2`` halves it), blocks 2–4 halve H and W with stride
  (1,2,2), and block 4 also halves T (``temporal_stride_last=True``). Cheaper; fine where the actor is large.

A 3-tap convolution with padding 1, and a pool that never shrinks a map below 1, work for any T ≥ 1, so short clips
do not break either form.
"""

from __future__ import annotations

import torch
from torch import nn

from scenebias.models.common import ActionNet

DEFAULT_WIDTHS: tuple[int, int, int, int] = (16, 32, 64, 64)
DOWNSAMPLING = ("stride", "pool")


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


def block_pools(n_blocks: int) -> list[tuple[int, int, int] | None]:
    """The max-pool after each block of the pooling form: (1,2,2) after the first, (2,2,2) after the others,
    none after the last."""
    return [(1, 2, 2) if i == 0 else (2, 2, 2) for i in range(n_blocks - 1)] + [None]


class _SafeMaxPool3d(nn.MaxPool3d):
    """Max-pooling that leaves a dimension alone once it is down to 1 (a 1-frame clip, a tiny crop)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernel = tuple(k if size >= k else 1 for k, size in zip(self.kernel_size, x.shape[2:], strict=True))
        return nn.functional.max_pool3d(x, kernel, kernel)


class Small3DNet(ActionNet):
    def __init__(
        self,
        num_classes: int,
        widths: tuple[int, ...] = DEFAULT_WIDTHS,
        in_channels: int = 3,
        temporal_stride_last: bool = True,
        stem_stride: int = 1,
        downsample: str = "stride",
    ) -> None:
        super().__init__()
        if len(widths) < 1:
            raise ValueError("widths must name at least one block")
        if downsample not in DOWNSAMPLING:
            raise ValueError(f"downsample must be one of {DOWNSAMPLING}, not {downsample!r}")
        channels = (in_channels, *widths)
        layers: list[nn.Module] = []
        if downsample == "pool":
            if stem_stride != 1:
                raise ValueError("stem_stride applies to downsample='stride' only")
            for c_in, c_out, pool in zip(channels[:-1], channels[1:], block_pools(len(widths)), strict=True):
                layers.append(conv_block(c_in, c_out, (1, 1, 1)))
                if pool is not None:
                    layers.append(_SafeMaxPool3d(pool))
        else:
            strides = block_strides(len(widths), temporal_stride_last, stem_stride)
            layers = [
                conv_block(c_in, c_out, s) for c_in, c_out, s in zip(channels[:-1], channels[1:], strides, strict=True)
            ]
        self.blocks = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.feature_dim = widths[-1]
        self.fc = nn.Linear(self.feature_dim, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv3d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.avgpool(self.blocks(x)), 1)
