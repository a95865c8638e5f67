"""The human-box stage: run the configured backend over the frame packs of one shard."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from scenebias.framepack import read_frames
from scenebias.humans.boxes import (
    VideoBoxes,
    actor_coverage,
    carry_to_all_frames,
    drop_large_boxes,
    empty_boxes,
    is_valid_video,
    load_boxes,
    processed_frames,
)
from scenebias.humans.motion import MotionSettings, motion_boxes

log = logging.getLogger(__name__)
BACKENDS = ("motion", "torchvision", "detectron2", "oracle")


def ok_videos(index: pd.DataFrame) -> pd.DataFrame:
    """Rows of a frame index whose extraction succeeded (failed videos are left out, as everywhere)."""
    return index[index["status"] == "ok"]


def oracle_boxes(actor_boxes_csv: Path) -> Callable[[str, int, int, np.ndarray], list[np.ndarray]]:
    """Ground-truth actor boxes of the synthetic world, rescaled from the rendered size to the frame size."""
    table = pd.read_csv(actor_boxes_csv)
    by_video = {vid: g.sort_values("frame") for vid, g in table.groupby("video_id")}

    def boxes(video_id: str, src_w: int, w: int, frame_idx: np.ndarray) -> list[np.ndarray]:
        rows = by_video[video_id].set_index("frame")
        scale = w / src_w
        out = []
        for f in frame_idx:
            x1, y1, x2, y2 = (rows.loc[f, ["x1", "y1", "x2", "y2"]].to_numpy(float) * scale).tolist()
            out.append(np.array([[x1, y1, x2, y2, 1.0]], np.float32) if x2 > x1 else empty_boxes())
        return out

    return boxes


def shard_boxes(
    index: pd.DataFrame,
    packs: Path,
    backend: str,
    stride: int,
    detect: Callable[[np.ndarray], list[np.ndarray]] | None = None,
    motion: MotionSettings | None = None,
    oracle: Callable | None = None,
) -> list[VideoBoxes]:
    """Boxes for every frame of every extracted video in a shard's frame index. Motion boxes covering more than
    `motion.max_area` of the frame are dropped and counted per processed frame (VideoBoxes.dropped)."""
    out = []
    for row in tqdm(list(ok_videos(index).itertuples()), desc=f"boxes ({backend})", unit="video", mininterval=2):
        n, size = int(row.n_frames), (int(row.w), int(row.h))
        idx = processed_frames(n, stride)
        dropped = np.zeros(n, np.int32)
        if backend == "oracle":
            found = oracle(row.video_id, int(row.src_w), int(row.w), idx)
        else:
            frames = read_frames(packs / row.pack, idx.tolist())
            found = motion_boxes(frames, motion) if backend == "motion" else detect(frames)
        if backend == "motion":
            found, dropped[idx] = drop_large_boxes(found, size, motion.max_area)
        per_frame, carried = carry_to_all_frames(n, idx, found)
        out.append(VideoBoxes(row.video_id, per_frame, size, carried, dropped))
    return out


def downscale_masks(masks: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Ground-truth masks (T, H, W) resized to frame size (w, h) by area averaging, kept where >= half."""
    w, h = size
    if masks.shape[1:] == (h, w):
        return masks
    resized = [np.asarray(Image.fromarray(m.astype(np.float32)).resize((w, h), Image.BOX)) for m in masks]
    return np.stack(resized) >= 0.5


def box_quality(boxes_npz: Path, threshold: float, valid_ratio: float, truth_dir: Path | None = None) -> dict:
    """Valid-video count (the paper's 70 % rule) and, for the synthetic world, actor-pixel recall and box IoU."""
    from scenebias.synth.truth import load_actor_masks

    videos = load_boxes(boxes_npz)
    valid = {vid: is_valid_video(v.frames, threshold, valid_ratio) for vid, v in videos.items()}
    report = {
        "videos": len(videos),
        "valid_videos": int(sum(valid.values())),
        "valid_rule": {"score_threshold": threshold, "min_frame_ratio": valid_ratio},
        "frames_with_box": float(np.mean([bool(len(b)) for v in videos.values() for b in v.frames] or [0])),
        "large_boxes_dropped": {
            "boxes": int(sum(v.dropped.sum() for v in videos.values())),
            "frames": int(sum((v.dropped > 0).sum() for v in videos.values())),
            "videos": int(sum(bool(v.dropped.any()) for v in videos.values())),
        },
    }
    if truth_dir is not None and (truth_dir / "actor_masks.npz").is_file():
        masks = load_actor_masks(truth_dir / "actor_masks.npz")
        truth = pd.read_csv(truth_dir / "ground_truth.csv").set_index("video_id")
        covered = total = 0
        ious: list[float] = []
        noactor_valid = []
        for vid, v in videos.items():
            if not truth.loc[vid, "has_actor"]:
                noactor_valid.append(valid[vid])
                continue
            if truth.loc[vid, "actor_masked"]:
                continue  # the actor was painted over in the video itself: nothing to detect
            c, t, i = actor_coverage(v.frames, downscale_masks(masks[vid], v.size), threshold)
            covered, total, ious = covered + c, total + t, ious + i
        report["actor_pixel_recall"] = covered / total if total else None
        report["mean_box_iou"] = float(np.mean(ious)) if ious else None
        report["frames_scored"] = len(ious)
        report["no_actor_videos_valid"] = float(np.mean(noactor_valid)) if noactor_valid else None
    return report
