"""The per-frame box format shared by every human-box backend, and the paper's masking rules.

A boxes file (`.npz`) holds, for N videos with F frames in total and B boxes in total:

    video_ids     (N,)    str
    frame_offsets (N+1,)  int64   frames of video i are rows frame_offsets[i]:frame_offsets[i+1] of the frame arrays
    box_offsets   (F+1,)  int64   boxes of frame f (global row) are rows box_offsets[f]:box_offsets[f+1] of `boxes`
    boxes         (B, 5)  float32 x1, y1, x2, y2, score in frame-pack pixels (x2, y2 exclusive)
    carried       (F,)    bool    True where the frame was skipped (stride) and its boxes copied from the nearest
                                  processed frame
    frame_sizes   (N, 2)  int32   (w, h) of each video's frames
    dropped       (F,)    int32   boxes dropped on the frame for covering (almost) the whole frame (motion backend's
                                  humans.motion.max_area); optional, files without it read as zeros
    sources, notes, left_out_ids, left_out_reasons: where each video's boxes came from and which videos got none
                                  (scenebias.coverage); optional

Frame indices are those of the frame packs, so boxes line up with every other stage.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scenebias.coverage import Coverage, load_coverage

# Official code (vt-vl-lab/SDN datasets/kinetics.py): `maskout_human` fills boxes with score >= 0.3;
# `is_video_valid_det` counts a frame when one of its boxes scores > 0.3 and keeps the video if >= 70 % do.
PAPER_SCORE_THRESHOLD = 0.3
PAPER_VALID_RATIO = 0.7


@dataclass
class VideoBoxes:
    """Boxes of one video: a list with one (M_t, 5) array per frame."""

    video_id: str
    frames: list[np.ndarray]
    size: tuple[int, int]  # (w, h)
    carried: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    dropped: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))  # whole-frame boxes dropped per frame
    source: str = ""  # the backend that found them (scenebias.coverage)
    note: dict = field(default_factory=dict)  # what it says about the video (a released file's frame mapping)
    masks: np.ndarray | None = None  # (T, H, W) person masks, from backends that give them (scenebias.humans.masks)

    def __post_init__(self):
        if len(self.carried) != len(self.frames):
            self.carried = np.zeros(len(self.frames), bool)
        if len(self.dropped) != len(self.frames):
            self.dropped = np.zeros(len(self.frames), np.int32)


def empty_boxes() -> np.ndarray:
    return np.zeros((0, 5), np.float32)


def processed_frames(n_frames: int, stride: int) -> np.ndarray:
    """Indices of the frames a backend runs on: every stride-th, always including the last one."""
    idx = np.arange(0, n_frames, max(1, stride))
    if n_frames and idx[-1] != n_frames - 1:
        idx = np.append(idx, n_frames - 1)
    return idx


def carry_to_all_frames(
    n_frames: int, processed: np.ndarray, boxes: list[np.ndarray]
) -> tuple[list[np.ndarray], np.ndarray]:
    """Per-frame boxes for every frame: skipped frames take the boxes of the nearest processed frame."""
    processed = np.asarray(processed)
    nearest = np.abs(np.arange(n_frames)[:, None] - processed[None, :]).argmin(1)
    out = [boxes[j] for j in nearest]
    carried = ~np.isin(np.arange(n_frames), processed)
    return out, carried


def drop_large_boxes(
    boxes: list[np.ndarray], size: tuple[int, int], max_area: float, instances: list[np.ndarray] | None = None
) -> tuple:
    """Per-frame boxes without those covering more than `max_area` of the (w, h) frame, and how many each frame
    lost. Such a box (everything moved: a panning or shaking camera) would mask the scene, not a person. With
    `instances` (per frame the (M, H, W) masks aligned with the boxes) the kept masks come third."""
    w, h = size
    kept, kept_masks, dropped = [], [], np.zeros(len(boxes), np.int32)
    for t, frame_boxes in enumerate(boxes):
        area = (frame_boxes[:, 2] - frame_boxes[:, 0]) * (frame_boxes[:, 3] - frame_boxes[:, 1])
        large = area > max_area * w * h
        kept.append(frame_boxes[~large])
        if instances is not None:
            kept_masks.append(instances[t][~large])
        dropped[t] = int(large.sum())
    return (kept, dropped) if instances is None else (kept, dropped, kept_masks)


def save_boxes(path: Path, videos: list[VideoBoxes], left_out: list[tuple[str, str]] = ()) -> None:
    frame_counts = [len(v.frames) for v in videos]
    per_frame = [f for v in videos for f in v.frames]
    box_counts = [len(f) for f in per_frame]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.npz")
    np.savez_compressed(
        tmp,
        video_ids=np.array([v.video_id for v in videos], dtype=str),
        frame_offsets=np.concatenate([[0], np.cumsum(frame_counts)]).astype(np.int64),
        box_offsets=np.concatenate([[0], np.cumsum(box_counts)]).astype(np.int64),
        boxes=np.concatenate(per_frame).astype(np.float32) if per_frame else empty_boxes(),
        carried=np.concatenate([v.carried for v in videos]).astype(bool) if videos else np.zeros(0, bool),
        frame_sizes=np.array([v.size for v in videos], dtype=np.int32).reshape(-1, 2),
        dropped=np.concatenate([v.dropped for v in videos]).astype(np.int32) if videos else np.zeros(0, np.int32),
        **Coverage([v.source for v in videos], [v.note for v in videos], list(left_out)).arrays(),
    )
    tmp.replace(path)


def load_boxes(path: Path, video_ids: Collection[str] | None = None) -> dict[str, VideoBoxes]:
    """The videos of a boxes file by id: all of them, or those of `video_ids` it holds (a few of a large dataset
    without building per-frame arrays for every video)."""
    with np.load(path) as data:
        ids = data["video_ids"].tolist()
        fo, bo, boxes = data["frame_offsets"], data["box_offsets"], data["boxes"]
        carried, sizes = data["carried"], data["frame_sizes"]
        dropped = data["dropped"] if "dropped" in data.files else np.zeros(len(carried), np.int32)
        coverage = Coverage.from_npz(data, len(ids))
    wanted = None if video_ids is None else set(video_ids)
    out = {}
    for i, vid in enumerate(ids):
        if wanted is not None and vid not in wanted:
            continue
        frames = [boxes[bo[f] : bo[f + 1]] for f in range(fo[i], fo[i + 1])]
        span = slice(fo[i], fo[i + 1])
        size = tuple(int(s) for s in sizes[i])
        out[vid] = VideoBoxes(vid, frames, size, carried[span].copy(), dropped[span].copy(), coverage.sources[i],
                              coverage.notes[i])  # fmt: skip
    return out


def merge_box_files(paths: list[Path], out: Path) -> None:
    videos, left_out = [], []
    for p in paths:
        videos.extend(load_boxes(p).values())
        left_out += load_coverage(p)[1].left_out
    save_boxes(out, videos, left_out)


# ---------------------------------------------------------------------------------------------------------
# The paper's rules (vt-vl-lab/SDN datasets/kinetics.py): fill boxes with the frame's mean colour; keep a video
# for the masked branch only if enough of its frames have a confident detection.


def mask_humans(frames: np.ndarray, boxes: list[np.ndarray], threshold: float = PAPER_SCORE_THRESHOLD) -> np.ndarray:
    """Frames (T, H, W, C) with every box of score >= threshold filled with that frame's mean colour.

    The mean is taken over the whole frame *before* masking and rounded for integer frames, as the official
    code does; frames without a box stay unchanged.
    """
    out = frames.copy()
    h, w = frames.shape[1:3]
    for t, frame_boxes in enumerate(boxes):
        keep = frame_boxes[frame_boxes[:, 4] >= threshold] if len(frame_boxes) else frame_boxes
        if not len(keep):
            continue
        mean = frames[t].reshape(-1, frames.shape[-1]).mean(0)
        if np.issubdtype(frames.dtype, np.integer):
            mean = np.round(mean)
        for x1, y1, x2, y2, _ in keep:
            xa, ya = int(max(0, np.floor(x1))), int(max(0, np.floor(y1)))
            xb, yb = int(np.clip(np.ceil(x2), 0, w)), int(np.clip(np.ceil(y2), 0, h))  # >= 0: no wrap-around
            out[t, ya:yb, xa:xb] = mean.astype(frames.dtype)
    return out


def frames_with_detection(boxes: list[np.ndarray], threshold: float = PAPER_SCORE_THRESHOLD) -> np.ndarray:
    """Per frame: has a box scoring strictly above threshold (the official `is_video_valid_det` uses `>`)."""
    return np.array([bool(len(b)) and bool((b[:, 4] > threshold).any()) for b in boxes])


def is_valid_video(
    boxes: list[np.ndarray], threshold: float = PAPER_SCORE_THRESHOLD, ratio: float = PAPER_VALID_RATIO
) -> bool:
    """The official rule: at least `ratio` of the frames have a box with score > threshold."""
    if not boxes:
        return False
    return float(frames_with_detection(boxes, threshold).mean()) >= ratio


# ---------------------------------------------------------------------------------------------------------
# Quality against ground truth (synthetic world)


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def union_box(boxes: np.ndarray) -> np.ndarray:
    return np.array([boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max()])


def box_mask(boxes: np.ndarray, threshold: float, h: int, w: int) -> np.ndarray:
    """The (h, w) pixels inside a frame's boxes of score >= threshold (edges rounded outwards, clipped)."""
    inside = np.zeros((h, w), bool)
    for x1, y1, x2, y2, score in boxes:
        if score >= threshold:
            ya, yb = int(max(0, np.floor(y1))), int(np.clip(np.ceil(y2), 0, h))
            inside[ya:yb, int(max(0, np.floor(x1))) : int(np.clip(np.ceil(x2), 0, w))] = True
    return inside


def actor_coverage(
    boxes: list[np.ndarray], masks: np.ndarray, threshold: float = PAPER_SCORE_THRESHOLD
) -> tuple[int, int, list[float]]:
    """Against ground-truth actor masks (T, H, W) at the boxes' scale, over the frames that show the actor:
    (actor pixels inside a kept box, actor pixels in all, per-frame IoU of the kept boxes' union with the
    ground-truth actor box). Callers sum the pixel counts over videos to get the actor-pixel recall."""
    covered = total = 0
    ious = []
    h, w = masks.shape[1:]
    for frame_boxes, mask in zip(boxes, masks, strict=True):
        if not mask.any():
            continue
        keep = frame_boxes[frame_boxes[:, 4] >= threshold] if len(frame_boxes) else frame_boxes
        inside = box_mask(keep, threshold, h, w)
        covered += int((inside & mask).sum())
        total += int(mask.sum())
        ys, xs = np.nonzero(mask)
        truth = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], float)
        ious.append(box_iou(union_box(keep), truth) if len(keep) else 0.0)
    return covered, total, ious
