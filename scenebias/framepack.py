"""Frame packs: one uncompressed ZIP of numbered JPEGs per video (docs/design.md §4).

One file per video instead of thousands of loose JPEGs (clusters run out of inodes first); ZIP_STORED so any
zip tool opens it and a frame is read without inflating anything. Frame i (0-based, the same index every
stage uses) is the member `{i:06d}.jpg`.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image


def member_name(index: int) -> str:
    return f"{index:06d}.jpg"


def write_pack(jpegs: Sequence[Path | bytes], dest: Path) -> None:
    """Store the JPEGs (files, or encoded bytes), in order, as frames 0..n-1 of a pack at dest, atomically (temp
    name + rename)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp{os.getpid()}")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
            for i, jpeg in enumerate(jpegs):
                if isinstance(jpeg, bytes):
                    zf.writestr(member_name(i), jpeg)
                else:
                    zf.write(jpeg, member_name(i))
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def count_frames(pack: Path) -> int:
    with zipfile.ZipFile(pack) as zf:
        return len(zf.namelist())


def read_jpeg_bytes(pack: Path, indices: Sequence[int]) -> list[bytes]:
    with zipfile.ZipFile(pack) as zf:
        return [zf.read(member_name(i)) for i in indices]


def read_frames(pack: Path, indices: Sequence[int] | None = None) -> np.ndarray:
    """Decoded RGB frames (T, H, W, 3) uint8; all frames when indices is None.

    Pillow (libjpeg-turbo) decodes: it imports in milliseconds, where torchvision costs seconds per process,
    which dominated the short per-shard jobs; its JPEG decoding is also deprecated in torchvision 0.29.
    """
    with zipfile.ZipFile(pack) as zf:
        names = [member_name(i) for i in indices] if indices is not None else sorted(zf.namelist())
        data = [zf.read(n) for n in names]
    return np.stack([np.asarray(Image.open(io.BytesIO(b)).convert("RGB")) for b in data])
