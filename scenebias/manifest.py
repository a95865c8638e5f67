"""Per-dataset manifests: one row per usable video, with its label, split roles and shard.

A manifest is built by a dataset adapter (scenebias.datasets) from the dataset's own lists, checked against the
files actually on disk, and written as `manifest.csv` plus a `manifest_report.json` that states what was listed
but missing and what is on disk but unlisted. Shards (fixed-size runs of the id-sorted manifest) are the unit of
work of every per-video stage.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

import pandas as pd

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".avi", ".webm", ".mkv", ".mov", ".m4v", ".mpg", ".mpeg", ".flv", ".3gp")
BASE_COLUMNS = ["video_id", "path", "label", "label_name"]
SHOW_NAMES = 5  # how many example names a report prints


class ManifestError(ValueError):
    """Malformed dataset lists, with the file (and line) that caused it."""


def check_video_id(video_id: str, where: str) -> str:
    """Reject ids that could escape a folder when used as a file name (`where` names the file and line)."""
    bad = (
        not video_id
        or "/" in video_id
        or "\\" in video_id
        or ".." in video_id
        or video_id.startswith(".")
        or any(c in video_id for c in "\0\n\r\t")
    )
    if bad:
        raise ManifestError(
            f"{where}: invalid video id {video_id!r}: ids become file names, so they may not be empty, "
            "start with '.', or contain '/', '\\\\', '..' or control characters"
        )
    return video_id


def check_relative_path(path: str, where: str) -> str:
    """A list entry's path must stay inside the dataset root: relative, no '..' components."""
    posix = PurePosixPath(path.replace("\\", "/"))
    if not path or posix.is_absolute() or ".." in posix.parts:
        raise ManifestError(f"{where}: path {path!r} escapes the dataset root (absolute or containing '..')")
    return str(posix)


def find_videos(video_root: Path) -> set[str]:
    """Relative POSIX paths (as listed, not resolved) of every video file under video_root. Symbolic links to
    folders and to files are followed; a link back to a folder it lies in is not entered again."""
    found: set[str] = set()

    def walk(folder: str, prefix: str, ancestors: frozenset[str]) -> None:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir():  # follows links
                    real = os.path.realpath(entry.path)
                    if real not in ancestors:
                        walk(entry.path, f"{prefix}{entry.name}/", ancestors | {real})
                elif os.path.splitext(entry.name)[1].lower() in VIDEO_EXTENSIONS and entry.is_file():
                    found.add(prefix + entry.name)

    walk(str(video_root), "", frozenset({os.path.realpath(video_root)}))
    return found


def _examples(names: Iterable[str]) -> list[str]:
    return sorted(names)[:SHOW_NAMES]


def reconcile_with_disk(listed: pd.DataFrame, video_root: Path) -> tuple[pd.DataFrame, dict]:
    """Drop listed videos that are not on disk; report them and the unlisted files on disk."""
    if not video_root.is_dir():
        raise ManifestError(f"video folder {video_root} does not exist; check the dataset's root in the config")
    on_disk = find_videos(video_root)
    present = listed["path"].isin(on_disk)
    missing = listed.loc[~present, "path"].tolist()
    extra = sorted(on_disk - set(listed["path"]))
    report = {
        "video_root": str(video_root),
        "listed": len(listed),
        "used": int(present.sum()),
        "missing": len(missing),
        "missing_examples": _examples(missing),
        "unlisted": len(extra),
        "unlisted_examples": _examples(extra),
    }
    if missing:
        log.warning("%d listed video(s) missing under %s, e.g. %s", len(missing), video_root, _examples(missing))
    if extra:
        log.warning("%d video file(s) under %s are in no list, e.g. %s", len(extra), video_root, _examples(extra))
    if len(listed) and not present.any():
        raise ManifestError(
            f"none of the {len(listed)} listed videos is under {video_root} (e.g. {_examples(missing)[0]}); "
            "check the dataset's root (and video_dir option) in the config"
        )
    return listed[present].reset_index(drop=True), report


def assign_shards(manifest: pd.DataFrame, shard_size: int) -> pd.DataFrame:
    """Sort by video id and cut into shards of shard_size; shard names are zero-padded numbers."""
    out = manifest.sort_values("video_id", kind="stable").reset_index(drop=True)
    out["shard"] = [f"{i // shard_size:04d}" for i in range(len(out))]
    return out


def shard_names(manifest_csv: Path) -> list[str]:
    """The shards of a written manifest (read by the workflow after the manifest checkpoint)."""
    shards = pd.read_csv(manifest_csv, usecols=["shard"], dtype=str)["shard"]
    return sorted(shards.unique())


def write_manifest(manifest: pd.DataFrame, report: dict, out_csv: Path, report_json: Path) -> None:
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    manifest.to_csv(out_csv, index=False)
    report = {
        **report,
        "shards": int(manifest["shard"].nunique()),
        "classes": int(manifest["label"].nunique()),
    }
    report_json.write_text(json.dumps(report, indent=1) + "\n")
