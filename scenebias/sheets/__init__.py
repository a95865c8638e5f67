"""Contact sheets: a dataset's human boxes and scene labels drawn for a person to check by eye (docs/design.md §4).

The quality JSONs score boxes and labels only where ground truth exists (the synthetic world). On real footage the
first question is whether the masks cover the people and whether the scene labels mean anything; two PNGs per
dataset answer it at a glance:

- **boxes sheet**: one row per sampled video (fixed seed, stratified by class), `frames` evenly spaced frames,
  each drawn with its boxes and scores and, on its right, the same frame as the mask-confusion loss sees it
  (`scenebias.humans.boxes.mask_humans`, the training code's fill). The row's strip gives the class, the video's
  verdict under the paper's rule (valid for the masked branch or not) and the share of its frames with a person.
  The header says what the boxes are (the backend record's words: motion regions are not person detections) and
  the backend's caveat, so nobody reads motion verdicts as person verdicts.
- **scenes sheet**: one row per scene label (k-means cluster or Places365 class) among the most frequent top-1
  labels, with its share of the dataset, showing the middle frame of a few random videos that carry it.

OpenCV (`opencv-python-headless`) resizes frames into tiles and draws boxes and text; the frames come from the
packs through `scenebias.framepack` like in every other stage. Each PNG has a JSON beside it that lists what it
shows, row by row.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from scenebias.framepack import read_frames
from scenebias.humans.boxes import frames_with_detection, is_valid_video, load_boxes, mask_humans
from scenebias.paths import shard_pack
from scenebias.scene import load_labels, sample_indices
from scenebias.sheets.canvas import (
    INVALID,
    TEXT,
    VALID,
    Grid,
    draw_boxes,
    empty_tile,
    fit_tile,
    new_sheet,
    paste,
    put_segments,
)

# The sheets of a dataset and the `sheets:` settings each one uses (a change to another sheet's keys leaves it be).
SHEET_KEYS: dict[str, tuple[str, ...]] = {
    "boxes": ("videos", "frames", "seed", "tile"),
    "scenes": ("scenes", "scene_videos", "seed", "tile"),
}


@dataclass(frozen=True)
class SheetSettings:
    """The `sheets:` config section."""

    videos: int = 8  # rows of the boxes sheet
    frames: int = 4  # frames per video on the boxes sheet
    scenes: int = 8  # rows of the scenes sheet: the most frequent scene labels
    scene_videos: int = 6  # videos shown per scene row
    seed: int = 0
    tile: int = 128  # tile height (px)


def sheet_header(dataset: str, kind: str, grid: Grid, settings) -> dict:
    """The fields every sheet's JSON record starts with: what it shows and its grid."""
    return {
        "dataset": dataset,
        "sheet": kind,
        "grid": {"rows": grid.rows, "cols": grid.cols, "tile": list(grid.tile), "group": grid.group},
        "settings": asdict(settings),
    }


def ok_frames(index_csv: Path) -> pd.DataFrame:
    """The extracted videos of a dataset's merged frame index, by video id, with the path of each one's pack."""
    index = pd.read_csv(index_csv, keep_default_na=False, dtype={"shard": str})
    index = index[index["status"] == "ok"].copy()
    index["pack_path"] = [shard_pack(index_csv, s, p) for s, p in zip(index["shard"], index["pack"], strict=True)]
    return index.set_index("video_id", drop=False).sort_index()


def stratified_sample(classes: Sequence[str], n: int, seed: int) -> list[int]:
    """Positions of up to n items, spread over classes: the classes in a seeded random order take turns, each
    giving its next item in a seeded random order, so every class shows once before any shows twice."""
    rng = np.random.default_rng(seed)
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(classes):
        groups.setdefault(c, []).append(i)
    names = sorted(groups)
    queues = [
        [groups[names[k]][j] for j in rng.permutation(len(groups[names[k]]))] for k in rng.permutation(len(names))
    ]
    chosen: list[int] = []
    while len(chosen) < n and any(queues):
        for queue in queues:
            if queue and len(chosen) < n:
                chosen.append(queue.pop(0))
    return chosen


def person_shares(boxes_npz: Path, threshold: float) -> pd.Series:
    """Per video of a boxes file: the share of its frames with a box of score > threshold (what the paper's
    validity rule counts, `frames_with_detection`), from the flat arrays, without per-frame lists."""
    with np.load(boxes_npz) as data:
        ids = data["video_ids"].tolist()
        fo, bo, scores = data["frame_offsets"], data["box_offsets"], data["boxes"][:, 4]
    kept = np.concatenate([[0], np.cumsum(scores > threshold)])
    has_person = (kept[bo[1:]] - kept[bo[:-1]]) > 0
    per_video = np.concatenate([[0], np.cumsum(has_person)])
    frames = np.diff(fo)
    share = np.divide(  # NaN for a video without frames: never valid, like is_valid_video
        per_video[fo[1:]] - per_video[fo[:-1]], frames, out=np.full(len(ids), np.nan), where=frames > 0
    )
    return pd.Series(share, index=ids, dtype=float)


def boxes_sheet(
    dataset: str,
    index_csv: Path,
    manifest_csv: Path,
    boxes_npz: Path,
    settings: SheetSettings,
    threshold: float,
    valid_ratio: float,
    label: dict | None = None,
) -> tuple[np.ndarray, dict]:
    """The boxes sheet of a dataset and the record of what it shows; `label` says what the boxes are
    (`scenebias.humans.stage.boxes_label`: are, caveat)."""
    label = label or {}
    index = ok_frames(index_csv)
    manifest = pd.read_csv(manifest_csv, keep_default_na=False, usecols=["video_id", "label_name"], dtype=str)
    classes = manifest.set_index("video_id")["label_name"]
    shares = person_shares(boxes_npz, threshold)
    pool = sorted(set(index.index) & set(shares.index) & set(classes.index))
    chosen = [pool[i] for i in stratified_sample([classes[v] for v in pool], settings.videos, settings.seed)]
    chosen.sort(key=lambda v: (classes[v], v))
    videos = load_boxes(boxes_npz, chosen)
    n_valid = int((shares[pool] >= valid_ratio).sum()) if pool else 0
    are = label.get("are", "boxes")
    header = [
        f"{dataset}: human boxes ({are}), {len(chosen)} of {len(pool)} videos (stratified by class, seed "
        f"{settings.seed})",
        f"each frame with its boxes and scores (green: score >= {threshold:g}, orange: below), then as the "
        f"mask-confusion loss sees it (green boxes filled with the frame mean)",
        f"valid for the masked branch (a green box in >= {valid_ratio:.0%} of frames): {n_valid} of {len(pool)} videos"
        f" - verdicts from {are}",
        *(textwrap.wrap(f"caution: {label['caveat']}", 110) if label.get("caveat") else []),
    ]
    rows, strips = [], []
    for vid in chosen:
        boxes = videos[vid].frames
        row = {
            "video_id": vid,
            "label_name": str(classes[vid]),
            "frames": sample_indices(int(index.loc[vid, "n_frames"]), settings.frames),
            "valid": is_valid_video(boxes, threshold, valid_ratio),
            "person_share": float(frames_with_detection(boxes, threshold).mean()) if boxes else 0.0,
        }
        rows.append(row)
        strips.append(
            [
                (f"{vid[:48]}  {row['label_name']}  ", TEXT),
                ("valid" if row["valid"] else "invalid", VALID if row["valid"] else INVALID),
                (
                    f"  person in {row['person_share']:.0%} of frames  (frames {', '.join(map(str, row['frames']))})",
                    TEXT,
                ),
            ]
        )
    sizes = [(index.loc[v, "w"], index.loc[v, "h"]) for v in chosen]
    grid, sheet = new_sheet(header, strips, 2 * settings.frames, sizes, settings.tile, group=2)
    for r, row in enumerate(rows):
        per_frame = [videos[row["video_id"]].frames[i] for i in row["frames"]]
        frames = read_frames(index.loc[row["video_id"], "pack_path"], row["frames"])
        masked = mask_humans(frames, per_frame, threshold)  # the training code's fill, not a copy of it
        for c, (frame, boxes, filled) in enumerate(zip(frames, per_frame, masked, strict=True)):
            tile, sx, sy, ox, oy = fit_tile(frame, grid.tile)
            draw_boxes(tile, boxes, threshold, sx, sy, ox, oy)
            paste(sheet, grid, r, 2 * c, tile)
            paste(sheet, grid, r, 2 * c + 1, fit_tile(filled, grid.tile)[0])
        for c in range(2 * len(frames), grid.cols):
            paste(sheet, grid, r, c, empty_tile(grid))
        put_segments(sheet, grid.strip(r), strips[r])
    record = {
        **sheet_header(dataset, "boxes", grid, settings),
        "score_threshold": threshold,
        "valid_ratio": valid_ratio,
        "videos_total": len(pool),
        "videos_valid": n_valid,
        "boxes": label,
        "header": header,
        "rows": rows,
    }
    return sheet, record


def scene_name(name: str) -> str:
    """A label's display name: Places365 categories lose their index letter ('/a/airfield' -> 'airfield')."""
    return re.sub(r"^/[a-z]/", "", name)


def scenes_sheet(dataset: str, index_csv: Path, labels_npz: Path, settings: SheetSettings) -> tuple[np.ndarray, dict]:
    """The scenes sheet of a dataset and the record of what it shows."""
    index = ok_frames(index_csv)
    labels = load_labels(labels_npz)
    n_labels = int(labels["soft"].shape[1])
    names = labels.get("class_names")
    kind = "Places365 classes" if names is not None else "scene clusters"
    table = pd.DataFrame(
        {"video_id": labels["video_ids"], "top1": labels["top1"], "prob": labels["soft"].max(1, initial=0.0)}
    )
    table = table[table["video_id"].isin(index.index)].sort_values("video_id")
    counts = table["top1"].value_counts()
    order = sorted(counts.index, key=lambda k: (-counts[k], k))[: settings.scenes]
    rng = np.random.default_rng(settings.seed)
    rows, strips = [], []
    for k in order:
        members = table[table["top1"] == k]
        pick = rng.permutation(len(members))[: settings.scene_videos]
        row = {
            "label": int(k),
            "name": scene_name(str(names[k])) if names is not None else f"cluster {k}",
            "videos": len(members),
            "share": len(members) / len(table),
            "mean_prob": float(members["prob"].mean()),
            "shown": sorted(members["video_id"].iloc[pick]),
        }
        rows.append(row)
        strips.append(
            [
                (row["name"], TEXT),
                (f"  {row['videos']} videos ({row['share']:.1%} of the dataset), "
                 f"mean top-1 prob {row['mean_prob']:.2f}", TEXT),
            ]
        )  # fmt: skip
    header = [
        f"{dataset}: scene labels, the {len(order)} most frequent of {n_labels} {kind} (top-1 of the soft label) "
        f"over {len(table)} videos",
        f"each row: up to {settings.scene_videos} random videos with that label (seed {settings.seed}), middle frame",
    ]
    sizes = [(index.loc[v, "w"], index.loc[v, "h"]) for r in rows for v in r["shown"]]
    grid, sheet = new_sheet(header, strips, settings.scene_videos, sizes, settings.tile)
    for r, row in enumerate(rows):
        for c in range(grid.cols):
            if c < len(row["shown"]):
                entry = index.loc[row["shown"][c]]
                frame = read_frames(entry["pack_path"], [int(entry["n_frames"]) // 2])[0]
                paste(sheet, grid, r, c, fit_tile(frame, grid.tile)[0])
            else:
                paste(sheet, grid, r, c, empty_tile(grid))
        put_segments(sheet, grid.strip(r), strips[r])
    record = {
        **sheet_header(dataset, "scenes", grid, settings),
        "labels": kind,
        "n_labels": n_labels,
        "videos_total": len(table),
        "rows": rows,
    }
    return sheet, record


def write_sheet(sheet: np.ndarray, record: dict, png: Path, record_json: Path) -> None:
    """The sheet as PNG (through a temporary name: a killed job leaves no half-written image) and its record."""
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError(f"OpenCV could not encode {png}")
    png.parent.mkdir(parents=True, exist_ok=True)
    tmp = png.with_name(f".{png.name}.tmp{os.getpid()}")
    tmp.write_bytes(encoded.tobytes())
    os.replace(tmp, png)
    record_json.write_text(json.dumps(record, indent=1) + "\n")
