"""Per-frame person masks beside the boxes: the file format, and the union of a frame's person instances.

The human-box stage writes, for backends whose record says they give masks (`BoxBackend.masks`), one masks file
per shard next to its boxes. A frame's mask is the union of the person instances whose box scores at least
`threshold` (the masking rule's `humans.score_threshold`, recorded in the file): the actor of the recomposed test
sets (scenebias.recompose). Boxes stay the paper's masking rule for training; the masks serve only measuring.

A masks file (`.npz`, compressed) holds, for N videos:

    video_ids    (N,)    str
    frame_sizes  (N, 2)  int32   (w, h) of each video's frames
    frame_counts (N,)    int64   frames per video (every frame: skipped frames copy the nearest processed one)
    byte_offsets (N+1,)  int64   video i's bits are bits[byte_offsets[i]:byte_offsets[i+1]]
    bits         (B,)    uint8   np.packbits of the video's (T, H, W) bool masks along the width
    threshold    ()      float   the score a person instance needed to enter the union
    source       ()      str     "instances" (the backend's person masks)

Bit-packing stores a frame of 128 x 171 pixels in 2.9 kB before compression; masks are mostly zeros, which
np.savez_compressed then shrinks further.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class VideoMasks:
    """The person masks of one video: (T, H, W) bool, H and W those of its frame pack."""

    video_id: str
    masks: np.ndarray


def union_of_instances(
    instances: np.ndarray, scores: np.ndarray, threshold: float, size: tuple[int, int]
) -> np.ndarray:
    """A frame's person mask: the union of the instance masks (M, H, W) whose score is at least threshold;
    all False (h, w) when there is none."""
    w, h = size
    keep = scores >= threshold
    if not len(instances) or not keep.any():
        return np.zeros((h, w), bool)
    return np.asarray(instances[keep], bool).any(0)


def save_masks(path: Path, videos: Iterable[VideoMasks], threshold: float, source: str = "instances") -> None:
    """Write the masks of some videos (atomically: temporary name, then rename)."""
    videos = list(videos)
    packed = [np.packbits(np.asarray(v.masks, bool), axis=-1).reshape(-1) for v in videos]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.npz")
    np.savez_compressed(
        tmp,
        video_ids=np.array([v.video_id for v in videos], dtype=str),
        frame_sizes=np.array([(v.masks.shape[2], v.masks.shape[1]) for v in videos], np.int32).reshape(-1, 2),
        frame_counts=np.array([len(v.masks) for v in videos], np.int64),
        byte_offsets=np.concatenate([[0], np.cumsum([len(p) for p in packed])]).astype(np.int64),
        bits=np.concatenate(packed) if packed else np.zeros(0, np.uint8),
        threshold=np.float64(threshold),
        source=np.array(source),
    )
    tmp.replace(path)


def load_masks(paths: Iterable[Path], video_ids: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """video id -> (T, H, W) bool masks, from one or more masks files (a dataset's shards); only `video_ids` when
    given (a dataset's test videos without unpacking all of them)."""
    wanted = None if video_ids is None else set(video_ids)
    out: dict[str, np.ndarray] = {}
    for path in paths:
        with np.load(path) as data:
            ids = data["video_ids"].tolist()
            sizes, counts, offsets = data["frame_sizes"], data["frame_counts"], data["byte_offsets"]
            bits = data["bits"]
        for i, vid in enumerate(ids):
            if wanted is not None and vid not in wanted:
                continue
            w, h = (int(s) for s in sizes[i])
            row = (w + 7) // 8
            chunk = bits[offsets[i] : offsets[i + 1]].reshape(int(counts[i]), h, row)
            out[vid] = np.unpackbits(chunk, axis=-1, count=w).astype(bool)
    return out


def masks_threshold(path: Path) -> float:
    with np.load(path) as data:
        return float(data["threshold"])


def mask_iou(predicted: np.ndarray, truth: np.ndarray) -> list[float]:
    """Per frame that shows the actor, the IoU of a (T, H, W) predicted mask with the true one."""
    out = []
    for p, t in zip(predicted, truth, strict=True):
        if not t.any():
            continue
        union = (p | t).sum()
        out.append(float((p & t).sum() / union) if union else 0.0)
    return out
