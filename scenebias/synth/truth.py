"""Reading the synthetic world's ground truth (kept free of ffmpeg, so quality measures need only NumPy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def load_actor_masks(path: Path) -> dict[str, np.ndarray]:
    """Ground-truth actor masks by video id, each (T, H, W) bool (stored bit-packed along the width)."""
    with np.load(path) as data:
        width = int(data["width"])
        unpacked = np.unpackbits(data["masks"], axis=-1, count=width).astype(bool)
        return dict(zip(data["video_ids"].tolist(), unpacked, strict=True))
