"""Diving48 (Li et al., ECCV 2018): ~18k competitive-diving clips of 48 dive types, one train/test split.

Layout, the official release unpacked under root:

    <root>/rgb/-mmq0PT-u8k_00000.mp4
    <root>/Diving48_vocab.json       [["Back", "15som", "05Twis", "FREE"], ...]   (48 entries, index = label)
    <root>/Diving48_V2_train.json    [{"vid_name": "-mmq0PT-u8k_00000", "label": 0,
    <root>/Diving48_V2_test.json       "start_frame": 0, "end_frame": 90}, ...]

V2 (the corrected current release, default) and V1 (Diving48_train.json / Diving48_test.json, the paper's) share
the videos and the format. A class is named by its four vocabulary terms joined with "_" (takeoff, somersaults,
twists, flight position). start_frame / end_frame are kept as extra columns.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from scenebias.datasets.common import TEST, TRAIN, load_json, make_table, merge_options, role_counts
from scenebias.manifest import ManifestError, check_relative_path, check_video_id

LIST_FILES = {
    "V2": {TRAIN: "Diving48_V2_train.json", TEST: "Diving48_V2_test.json"},
    "V1": {TRAIN: "Diving48_train.json", TEST: "Diving48_test.json"},
}
VOCAB_FILE = "Diving48_vocab.json"
KEYS = ("vid_name", "label", "start_frame", "end_frame")
DEFAULTS = {"version": "V2", "video_dir": "rgb", "list_dir": ".", "extension": ".mp4"}


def read_vocab(path: Path) -> list[str]:
    """Class names in label order: each vocabulary entry's four terms joined with '_'."""
    vocab = load_json(path)
    if not isinstance(vocab, list) or not vocab:
        raise ManifestError(f"{path}: expected a non-empty JSON list of [takeoff, som, twist, flight] entries")
    names = []
    for index, terms in enumerate(vocab):
        if not (isinstance(terms, list) and len(terms) == 4 and all(isinstance(t, str) and t for t in terms)):
            raise ManifestError(f"{path}[{index}]: expected a list of 4 non-empty strings, got {terms!r}")
        name = "_".join(terms)
        if name in names:
            raise ManifestError(f"{path}[{index}]: duplicate class {name!r}")
        names.append(name)
    return names


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_entry(entry, where: str, n_classes: int) -> dict:
    """One list entry, checked: all four keys, a known label, frame numbers that make sense."""
    if not isinstance(entry, dict):
        raise ManifestError(f"{where}: expected an object with keys {list(KEYS)}, got {entry!r}")
    missing = [k for k in KEYS if k not in entry]
    if missing:
        raise ManifestError(f"{where}: missing key(s) {missing}")
    if not isinstance(entry["vid_name"], str):
        raise ManifestError(f"{where}: vid_name must be a string, got {entry['vid_name']!r}")
    if not is_int(entry["label"]) or not 0 <= entry["label"] < n_classes:
        raise ManifestError(f"{where}: label {entry['label']!r} is not a class index 0..{n_classes - 1}")
    start, end = entry["start_frame"], entry["end_frame"]
    if not (is_int(start) and is_int(end) and 0 <= start <= end):
        raise ManifestError(f"{where}: start_frame {start!r} / end_frame {end!r} must be integers, 0 <= start <= end")
    return entry


def read_diving48(
    root: Path, version: str = "V2", video_dir: str = "rgb", list_dir: str = ".", extension: str = ".mp4"
) -> pd.DataFrame:
    """The train and test lists of one version as a table with roles in `split1`."""
    if version not in LIST_FILES:
        raise ManifestError(f"diving48: version must be one of {sorted(LIST_FILES)}, got {version!r}")
    lists = Path(root) / list_dir
    classes = read_vocab(lists / VOCAB_FILE)
    rows, first_seen = [], {}
    for role, file_name in LIST_FILES[version].items():
        path = lists / file_name
        entries = load_json(path)
        if not isinstance(entries, list):
            raise ManifestError(f"{path}: expected a JSON list of clip entries")
        for index, entry in enumerate(entries):
            where = f"{path}[{index}]"
            entry = check_entry(entry, where, len(classes))
            video_id = check_video_id(entry["vid_name"], where)
            if video_id in first_seen:
                raise ManifestError(f"{where}: duplicate vid_name {video_id!r} (first at {first_seen[video_id]})")
            first_seen[video_id] = where
            label = entry["label"]
            rows.append(
                {
                    "video_id": video_id,
                    "path": check_relative_path(video_id + extension, where),
                    "label": label,
                    "label_name": classes[label],
                    "start_frame": entry["start_frame"],
                    "end_frame": entry["end_frame"],
                    "split1": role,
                }
            )
    if not rows:
        raise ManifestError(f"{lists}: the Diving48 {version} lists name no videos")
    return make_table(rows, ["split1"], extra_columns=["start_frame", "end_frame"])


def adapt(root: Path, options: dict) -> tuple[pd.DataFrame, Path, dict]:
    """Adapter. Options: version ("V2" | "V1"), video_dir ("rgb"), list_dir ("." = root), extension (".mp4")."""
    opts = merge_options("diving48", options, DEFAULTS)
    table = read_diving48(Path(root), opts["version"], opts["video_dir"], opts["list_dir"], opts["extension"])
    n_classes = len(read_vocab(Path(root) / opts["list_dir"] / VOCAB_FILE))
    report = {"kind": "diving48", "version": opts["version"], "n_classes": n_classes, "roles": role_counts(table)}
    return table, Path(root) / opts["video_dir"], report
