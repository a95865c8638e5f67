"""The released human detections (`humans.backend: released`): import once, then boxes per shard.

Official format (vt-vl-lab/SDN `datasets/kinetics.py`, read with `np.load(file).item()` from
`<human_dets_path>/detection_{train,val}_merged_rearranged.npy`):

    dets[class_dir][clip_dir[:11]][frame]['human_boxes'] -> array (N, 5): x1, y1, x2, y2, score

`frame` is the 1-based index of `image_%05d.jpg` in the clip's folder, extracted at the native frame rate with
`ffmpeg -vf scale=-1:240` (so pixels of a frame 240 high, its width keeping the aspect ratio). The clip's frame
count there is the highest JPEG index (`n_frames`).

Our frames are extracted at the native rate too, at `frames.short_side`, 0-based. A video of ours with n frames
takes the release's frame i + 1 for its frame i when the release implies the same count (its highest frame
index); otherwise frame i takes the release frame at the same relative time, floor((i + 0.5) * n_rel / n) + 1,
and the video's note says so (`frame_mapping: time`). Boxes are scaled from the 240-high frame to ours: y by
h / 240, x by w / (240 * src_w / src_h), and clipped to the frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from scenebias.backends import Uncovered
from scenebias.humans.boxes import empty_boxes
from scenebias.released.store import (
    ReleaseFormatError,
    Store,
    check_pins,
    class_note,
    entries,
    manifest_classes,
    read_release,
    save_store,
)

OFFICIAL_HEIGHT = 240  # utils/video_jpg_kinetics.py: ffmpeg -vf scale=-1:240


def frame_boxes(path: Path, where: str, value) -> np.ndarray:
    """One frame's (M, 5) float32 boxes from its `{'human_boxes': array}` entry."""
    if not isinstance(value, dict) or "human_boxes" not in value:
        raise ReleaseFormatError(f"{path}: {where}: expected a dict with 'human_boxes', got {type(value).__name__}")
    boxes = np.asarray(value["human_boxes"], dtype=np.float32)
    if boxes.size == 0:
        return empty_boxes()
    if boxes.ndim != 2 or boxes.shape[1] < 5:
        raise ReleaseFormatError(f"{path}: {where}['human_boxes']: expected (N, 5) x1, y1, x2, y2, score, "
                                 f"got shape {boxes.shape}")  # fmt: skip
    return boxes[:, :5]


def import_detections(files: dict, settings: dict, out: Path) -> dict:
    """The prepare step: every released detection file into one store (videos, classes, frame and box offsets,
    boxes in the release's pixels, and which frame indices the release has)."""
    paths = [Path(p) for p in files["detections"]]
    report = {"files": check_pins(paths, settings.get("sha256")), "duplicates": [], "absent_frames": 0}
    videos, classes, frame_counts, box_counts, boxes, present = [], [], [], [], [], []
    seen: dict[tuple[str, str], str] = {}
    for path in paths:
        for cls, key, frames in entries(path, read_release(path)):
            where = f"[{cls!r}][{key!r}]"
            if (cls, key) in seen:
                report["duplicates"].append(
                    {"video": key, "class": cls, "kept": seen[(cls, key)], "ignored": str(path)}
                )
                continue
            if not isinstance(frames, dict) or not frames or not all(isinstance(f, int) and f >= 1 for f in frames):
                raise ReleaseFormatError(f"{path}: {where}: expected a dict of 1-based frame numbers")
            seen[(cls, key)] = str(path)
            n = max(frames)
            # One array per video, not per frame: tens of millions of frames would not fit as separate objects.
            per_frame = [frame_boxes(path, f"{where}[{f}]", frames[f]) if f in frames else empty_boxes()
                         for f in range(1, n + 1)]  # fmt: skip
            boxes.append(np.concatenate(per_frame))
            box_counts.append(np.fromiter(map(len, per_frame), np.int64, n))
            present.append(np.isin(np.arange(1, n + 1), list(frames)))
            videos.append(key)
            classes.append(cls)
            frame_counts.append(n)
            report["absent_frames"] += n - len(frames)
    arrays = {
        "videos": np.asarray(videos, dtype=str),
        "classes": np.asarray(classes, dtype=str),
        "frame_offsets": np.concatenate([[0], np.cumsum(frame_counts)]).astype(np.int64),
        "box_offsets": np.concatenate([[0], *box_counts]).cumsum().astype(np.int64),
        "boxes": np.concatenate(boxes).astype(np.float32) if boxes else empty_boxes(),
        "present": np.concatenate(present).astype(bool) if present else np.zeros(0, bool),
    }
    report.update(videos=len(videos), frames=int(sum(frame_counts)), boxes=len(arrays["boxes"]))
    save_store(out, arrays, report)
    return report


def release_frame_index(n_frames: int, n_release: int) -> np.ndarray:
    """For each of our n frames, the release's 0-based frame: the same one when the counts agree, else the one at
    the same relative time."""
    if n_frames == n_release:
        return np.arange(n_frames)
    return np.minimum(((np.arange(n_frames) + 0.5) * n_release / n_frames).astype(int), n_release - 1)


def scale_boxes(boxes: np.ndarray, size: tuple[int, int], src: tuple[int, int], height: int) -> np.ndarray:
    """Boxes from the release's frame (`height` high, the source's aspect) to ours of (w, h) pixels."""
    w, h = size
    src_w, src_h = src
    release_w = height * src_w / src_h if src_w > 0 and src_h > 0 else height * w / h
    out = boxes.copy()
    out[:, [0, 2]] = np.clip(out[:, [0, 2]] * (w / release_w), 0, w)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]] * (h / height), 0, h)
    return out


def build_finder(settings: dict, files: dict):
    """The BoxFinder of one shard's job (scenebias.humans.stage): boxes for the processed frames of a video the
    release has, with a note on its frame mapping; Uncovered for the others."""
    store = Store(files["release"])
    frame_offsets, box_offsets = store.array("frame_offsets"), store.array("box_offsets")
    boxes, present = store.array("boxes"), store.array("present")
    classes = manifest_classes(files.get("manifest"))
    height = settings["frame_height"]

    def find(row, idx, frames):
        label_name = classes.get(row.video_id)
        found = store.find(row.video_id, label_name)
        if isinstance(found, Uncovered):
            return found
        first, last = int(frame_offsets[found]), int(frame_offsets[found + 1])
        n_release, n = last - first, int(row.n_frames)
        mapping = release_frame_index(n, n_release)[idx] + first
        size, src = (int(row.w), int(row.h)), (int(row.src_w), int(row.src_h))
        out = [scale_boxes(np.asarray(boxes[box_offsets[f] : box_offsets[f + 1]]), size, src, height) for f in mapping]
        note = {"frames": n, "release_frames": n_release, "frame_mapping": "frame" if n == n_release else "time"}
        absent = int((~np.asarray(present[first:last])).sum())
        if absent:
            note["release_frames_absent"] = absent  # frame numbers the release skips: no boxes there
        return out, None, {**note, **class_note(store, found, label_name)}

    return find
