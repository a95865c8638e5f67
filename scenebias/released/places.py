"""The released Places365 scene labels (`scene.backend: released`): import once, then labels per shard.

Official format (vt-vl-lab/SDN `datasets/kinetics.py`, class `Kinetics_adv`): every file matching
`<place_pred_path>/*train*.npy` (training) or `*val*.npy` (validation), each `np.load(file).item()`, merged with
`dict.update`:

    pred[class_dir][youtube_id] -> {'pred_cls': int, or an array with one class per frame,
                                    'probs': 365 probabilities, or an array with one row per frame}

where `youtube_id` is the clip folder's name without its trailing `_<start:06d>_<end:06d>` (14 characters). With
per-frame arrays the soft label is `np.mean(probs, axis=0)` and the hard label `np.bincount(pred_cls).argmax()`
(a majority vote, ties to the smaller class); otherwise both are used as given. The official code decides
per-frame or not once, from the first video of the first class; we decide per video, from the arrays' shapes.
`dict.update` replaces a class given in two files wholesale (which file wins depends on the glob's order); we
merge per video and keep the first of a video given twice, listed in the prepared folder's report.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from scenebias.backends import Uncovered
from scenebias.coverage import ShardLabels
from scenebias.places365 import read_places365_categories
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

SUM_TOLERANCE = 1e-3  # a soft label whose probabilities sum further from 1 is counted in the report


def video_label(path: Path, where: str, value) -> tuple[np.ndarray, int, int]:
    """(soft label, hard label, frames it summarises) of one `{'pred_cls', 'probs'}` entry."""
    if not isinstance(value, dict) or "probs" not in value or "pred_cls" not in value:
        raise ReleaseFormatError(f"{path}: {where}: expected a dict with 'pred_cls' and 'probs'")
    probs = np.asarray(value["probs"], dtype=np.float64)
    votes = np.asarray(value["pred_cls"]).reshape(-1)
    if probs.ndim not in (1, 2) or probs.size == 0 or not np.issubdtype(votes.dtype, np.integer) or votes.size == 0:
        raise ReleaseFormatError(f"{path}: {where}: 'probs' must be one row or one row per frame and 'pred_cls' "
                                 f"integers, got shapes {probs.shape} and {votes.shape} ({votes.dtype})")  # fmt: skip
    rows = probs.reshape(-1, probs.shape[-1])
    if votes.min() < 0 or votes.max() >= rows.shape[1]:
        raise ReleaseFormatError(f"{path}: {where}: 'pred_cls' {votes.tolist()[:5]} outside 0..{rows.shape[1] - 1}")
    return rows.mean(0), int(np.bincount(votes).argmax()), len(rows)


def import_labels(files: dict, settings: dict, out: Path) -> dict:
    """The prepare step: every released label file into one store (videos, classes, soft labels, votes)."""
    paths = [Path(p) for p in files["labels"]]
    report = {"files": check_pins(paths, settings.get("sha256")), "duplicates": []}
    videos, classes, soft, votes, rows = [], [], [], [], []
    seen: dict[tuple[str, str], str] = {}
    class_files: dict[str, set[str]] = {}
    for path in paths:
        for cls, key, value in entries(path, read_release(path)):
            class_files.setdefault(cls, set()).add(str(path))
            if (cls, key) in seen:
                report["duplicates"].append(
                    {"video": key, "class": cls, "kept": seen[(cls, key)], "ignored": str(path)}
                )
                continue
            seen[(cls, key)] = str(path)
            label, vote, n = video_label(path, f"[{cls!r}][{key!r}]", value)
            if soft and len(label) != len(soft[0]):
                raise ReleaseFormatError(
                    f"{path}: [{cls!r}][{key!r}]: {len(label)} classes, others have {len(soft[0])}"
                )
            videos.append(key)
            classes.append(cls)
            soft.append(label.astype(np.float32))
            votes.append(vote)
            rows.append(n)
    arrays = {
        "videos": np.asarray(videos, dtype=str),
        "classes": np.asarray(classes, dtype=str),
        "soft": np.stack(soft) if soft else np.zeros((0, 0), np.float32),
        "vote": np.asarray(votes, dtype=np.int64),
        "rows": np.asarray(rows, dtype=np.int64),
    }
    report["classes_in_several_files"] = {c: sorted(f) for c, f in class_files.items() if len(f) > 1}
    sums = arrays["soft"].sum(1)
    report.update(
        videos=len(videos),
        classes=int(arrays["soft"].shape[1]),
        per_frame_videos=int((arrays["rows"] > 1).sum()),
        soft_not_summing_to_1=int((np.abs(sums - 1) > SUM_TOLERANCE).sum()),
        vote_differs_from_soft_argmax=int((arrays["soft"].argmax(1) != arrays["vote"]).sum()) if soft else 0,
    )
    save_store(out, arrays, report)
    return report


def label_shard(files: dict, settings: dict, videos: set[str] | None = None) -> ShardLabels:
    """The labeller of one shard's job (scenebias.scene): the release's soft label and vote for every extracted video
    it has (or of `videos`), Uncovered for the rest."""
    store = Store(files["release"])
    soft, vote = store.array("soft"), store.array("vote")
    classes = manifest_classes(files.get("manifest"))
    index = pd.read_csv(files["index"], keep_default_na=False)
    index = index[index["status"] == "ok"]
    ids, rows, notes, uncovered = [], [], [], []
    for vid in index["video_id"]:
        if videos is not None and vid not in videos:
            continue
        found = store.find(vid, classes.get(vid))
        if isinstance(found, Uncovered):
            uncovered.append((vid, found.reason))
            continue
        ids.append(vid)
        rows.append(found)
        notes.append(class_note(store, found, classes.get(vid)))
    names = read_places365_categories(files["categories"]) if files.get("categories") else None
    width = soft.shape[1]
    if names is not None and len(names) != width:
        raise ReleaseFormatError(f"{files['categories']}: {len(names)} class names, the release has {width} classes")
    labels = np.asarray(soft[rows], np.float32) if rows else np.zeros((0, width), np.float32)
    top1 = np.asarray(vote[rows], np.int64) if rows else np.zeros(0, np.int64)
    return ShardLabels(ids, labels, names, top1, notes, uncovered)
