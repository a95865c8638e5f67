"""What the two released backends share: reading the files (hashed, pinned hashes checked), walking the nested
dicts with errors that name the file and the key path, the indexed store on disk, and finding our videos in it."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from scenebias.backends import Uncovered
from scenebias.datasets.kinetics import youtube_id
from scenebias.provenance import file_sha256
from scenebias.released.unpickle import load_pickled_npy

log = logging.getLogger(__name__)

REPORT = "report.json"  # the prepared folder's report (files read, counts, what was odd)


class ReleaseFormatError(ValueError):
    """A released file whose content is not in the format the official code reads."""


def check_pins(paths: list[Path], pins: dict[str, str] | None) -> list[dict]:
    """{path, bytes, sha256} per file; a file whose name `pins` gives must have that sha256, and every pinned name
    must be among the files."""
    pins = {k: v.lower() for k, v in (pins or {}).items()}
    names = {p.name for p in paths}
    unknown = sorted(set(pins) - names)
    if unknown:
        raise ReleaseFormatError(f"sha256 pinned for {unknown}, which are not among the files read ({sorted(names)})")
    records = []
    for path in paths:
        digest = file_sha256(path)
        if path.name in pins and pins[path.name] != digest:
            raise ReleaseFormatError(
                f"{path}: sha256 {digest} differs from the pinned {pins[path.name]}: a damaged or different file; "
                "unpack the archive again, or fix the pin"
            )
        records.append({"path": str(path), "bytes": path.stat().st_size, "sha256": digest,
                        "pinned": path.name in pins})  # fmt: skip
    return records


def read_release(path: Path) -> dict:
    """One released file's dict of classes (restricted unpickling)."""
    log.info("reading %s (%.1f MB)", path, path.stat().st_size / 1e6)
    content = load_pickled_npy(path)
    if not isinstance(content, dict):
        raise ReleaseFormatError(f"{path}: expected a dict of classes, got {type(content).__name__}")
    return content


def entries(path: Path, content: dict) -> Iterator[tuple[str, str, object]]:
    """(class, video key, value) of a `[class][video]` dict, with string keys checked."""
    for cls, videos in content.items():
        if not isinstance(cls, str) or not isinstance(videos, dict):
            raise ReleaseFormatError(f"{path}: [{cls!r}]: expected a class name mapping to a dict of videos")
        for key, value in videos.items():
            if not isinstance(key, str):
                raise ReleaseFormatError(f"{path}: [{cls!r}][{key!r}]: expected a YouTube id string")
            yield cls, key, value


def save_store(out: Path, arrays: dict[str, np.ndarray], report: dict) -> None:
    """The prepared folder: one plain .npy per array (memory-mappable) and the report."""
    out.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        np.save(out / f"{name}.npy", array, allow_pickle=False)
    (out / REPORT).write_text(json.dumps(report, indent=1) + "\n")


class Store:
    """A prepared folder, opened: arrays memory-mapped, videos found by YouTube id (and class)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.videos = self.array("videos").tolist()
        self.classes = self.array("classes").tolist()
        self.rows: dict[str, list[int]] = {}
        for row, key in enumerate(self.videos):
            self.rows.setdefault(key, []).append(row)

    def array(self, name: str) -> np.ndarray:
        return np.load(self.folder / f"{name}.npy", mmap_mode="r", allow_pickle=False)

    def find(self, video_id: str, label_name: str | None) -> int | Uncovered:
        """The store row of one of our videos, or why there is none."""
        ytid = youtube_id(video_id)
        if ytid is None:
            return Uncovered("not a Kinetics clip name (<youtube_id>_<start>_<end>)")
        rows = self.rows.get(ytid, [])
        if len(rows) > 1:
            rows = [r for r in rows if self.classes[r] == label_name]
            if len(rows) != 1:
                return Uncovered("YouTube id under several classes of the release, none of them this video's")
        if not rows:
            return Uncovered("not in the release")
        return rows[0]


def manifest_classes(manifest_csv: Path | None) -> dict[str, str]:
    """video id -> class name, from the dataset's manifest."""
    if manifest_csv is None:
        return {}
    table = pd.read_csv(manifest_csv, keep_default_na=False, usecols=["video_id", "label_name"], dtype=str)
    return dict(zip(table["video_id"], table["label_name"], strict=True))


def class_note(store: Store, row: int, label_name: str | None) -> dict:
    """The release's class for a video when it differs from the manifest's (a naming convention to check)."""
    release_class = store.classes[row]
    return {"release_class": release_class} if label_name is not None and release_class != label_name else {}
