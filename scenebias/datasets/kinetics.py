"""Kinetics (Kay et al., 2017) and its Mini-Kinetics-200 subset (Xie et al., 2018), in either common layout.

(a) class folders, as most download scripts write them (option split_dirs: split folder -> role):

    <root>/train/playing guitar/-0B2EGKpsLw_000034_000044.mp4
    <root>/val/abseiling/0wR5jVB-WPk_000417_000427.mp4

(b) one flat folder plus the official CSVs (options csv and video_dir):

    <root>/videos/-0B2EGKpsLw_000034_000044.mp4
    <root>/kinetics_train.csv    "label,youtube_id,time_start,time_end,split"   (header; extra columns are fine)
                                 "playing guitar,-0B2EGKpsLw,34,44,train"

Either way a clip file is named `<youtube_id>_<start:06d>_<end:06d>.<ext>` and its stem is the video id.

Option subset_lists selects a subset and each video's role, e.g. Mini-Kinetics-200's official lists (public
repository s9xie/Mini-Kinetics-200; 80,000 / 5,000 ids):

    train_ytid_list.txt   "-0B2EGKpsLw"     (one YouTube id per line)
    val_ytid_list.txt

Kinetics' validation set is the paper's test set, so 'val' maps to role 'test' (the role evaluation looks for).
No Kinetics download is complete (videos vanish from YouTube), so listed ids absent on disk are reported (per
role, per class where the CSV knows it, first few ids) and skipped: the table holds only videos on disk. The
classes are the labels of the videos used, sorted, 0-based.
"""

from __future__ import annotations

import csv
import logging
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from scenebias.datasets.common import TEST, TRAIN, make_table, merge_options, read_lines, role_counts
from scenebias.manifest import SHOW_NAMES, VIDEO_EXTENSIONS, ManifestError, check_relative_path, check_video_id

log = logging.getLogger(__name__)

YTID = re.compile(r"^[A-Za-z0-9_-]{11}$")  # YouTube ids: 11 characters, '-' and '_' included
CSV_COLUMNS = ("label", "youtube_id", "time_start", "time_end", "split")
# Kinetics' own split names -> roles. Its 'test' set is a separate held-out set, not the validation set that
# papers report on, so it gets a role of its own rather than being merged into 'test'.
CSV_ROLES = {"train": TRAIN, "val": TEST, "validate": TEST, "validation": TEST, "test": "heldout"}
LIST_ROLES = {"train": TRAIN, "val": TEST, "validate": TEST, "validation": TEST, "test": TEST}
DEFAULTS = {"split_dirs": {"train": TRAIN, "val": TEST}, "csv": None, "video_dir": ".", "subset_lists": None}


@dataclass(frozen=True)
class Clip:
    """A clip file on disk."""

    video_id: str
    path: str  # relative to the video root
    label_name: str | None = None  # its class folder (layout a)
    role: str | None = None  # its split folder's role (layout a)


@dataclass(frozen=True)
class Wanted:
    """A video the lists ask for: its role, and its class where a list says it."""

    ytid: str
    role: str
    label_name: str | None


def youtube_id(file_name: str) -> str | None:
    """The YouTube id of `<youtube_id>_<start>_<end>.<ext>`, or None when the name does not follow the scheme.

    Parsed from the right: the id itself may contain '_' and '-'.
    """
    parts = Path(file_name).stem.rsplit("_", 2)
    if len(parts) == 3 and YTID.match(parts[0]) and parts[1].isdigit() and parts[2].isdigit():
        return parts[0]
    return None


def add_clip(clips: dict[str, Clip], unrecognised: list[str], rel: str, **fields) -> None:
    """Index one file by YouTube id; two files of the same id make the choice ambiguous, so that fails."""
    ytid = youtube_id(rel.rsplit("/", 1)[-1])
    if ytid is None:
        unrecognised.append(rel)
        return
    if ytid in clips:
        raise ManifestError(f"{clips[ytid].path} and {rel}: two files for YouTube id {ytid!r}")
    clips[ytid] = Clip(check_video_id(Path(rel).stem, rel), check_relative_path(rel, rel), **fields)


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS and path.is_file()


def scan_folders(video_root: Path, split_dirs: dict[str, str]) -> tuple[dict[str, Clip], list[str]]:
    """Layout (a): `<split>/<class name>/<clip file>`; class names may contain spaces."""
    clips: dict[str, Clip] = {}
    unrecognised: list[str] = []
    for split_dir, role in split_dirs.items():
        base = video_root / split_dir
        if not base.is_dir():
            raise ManifestError(f"{base}: split folder not found (option split_dirs: {split_dirs})")
        for class_dir in sorted(p for p in base.iterdir() if p.is_dir()):
            for path in sorted(p for p in class_dir.iterdir() if is_video(p)):
                rel = f"{split_dir}/{class_dir.name}/{path.name}"
                add_clip(clips, unrecognised, rel, label_name=class_dir.name, role=role)
    return clips, unrecognised


def scan_flat(video_root: Path) -> tuple[dict[str, Clip], list[str]]:
    """Layout (b): every clip file directly in the video folder."""
    if not video_root.is_dir():
        raise ManifestError(f"{video_root}: video folder not found")
    clips: dict[str, Clip] = {}
    unrecognised: list[str] = []
    for path in sorted(p for p in video_root.iterdir() if is_video(p)):
        add_clip(clips, unrecognised, path.name)
    return clips, unrecognised


def read_kinetics_csv(path: Path, seen: dict[str, str]) -> list[Wanted]:
    """A Wanted per row of "label,youtube_id,time_start,time_end,split"; unlabelled rows (the
    original test CSV) get label None. `seen` maps ids to where they were first listed, across files."""
    if not path.is_file():
        raise ManifestError(f"{path}: file not found")
    rows = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        absent = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
        if absent:
            raise ManifestError(f"{path}:1: header lacks column(s) {absent}; expected {','.join(CSV_COLUMNS)}")
        for record in reader:
            where = f"{path}:{reader.line_num}"
            if None in record or None in record.values():
                raise ManifestError(f"{where}: expected {len(reader.fieldnames)} fields like the header")
            ytid, split = record["youtube_id"].strip(), record["split"].strip()
            if not YTID.match(ytid):
                raise ManifestError(f"{where}: {ytid!r} is not a YouTube id (11 characters of A-Z a-z 0-9 - _)")
            if split not in CSV_ROLES:
                raise ManifestError(f"{where}: unknown split {split!r}; expected one of {sorted(CSV_ROLES)}")
            for column in ("time_start", "time_end"):
                try:
                    float(record[column])
                except ValueError:
                    raise ManifestError(f"{where}: {column} {record[column]!r} is not a number") from None
            if ytid in seen:
                raise ManifestError(f"{where}: duplicate youtube_id {ytid!r} (first at {seen[ytid]})")
            seen[ytid] = where
            rows.append(Wanted(ytid, CSV_ROLES[split], record["label"].strip() or None))
    return rows


def list_role(key: str, path: Path) -> str:
    """The role of a subset list: its mapping key, or for a plain list of files the start of its file name."""
    for prefix, role in LIST_ROLES.items():
        if key == prefix or (key == path.name and path.name.startswith(prefix)):
            return role
    raise ManifestError(
        f"{path}: cannot tell this subset list's role; give subset_lists as a mapping like "
        "{train: train_ytid_list.txt, val: val_ytid_list.txt}"
    )


def read_subset_lists(lists: dict[str, Path]) -> dict[str, tuple[str, str]]:
    """YouTube id -> (role, where) from one-id-per-line lists such as train_ytid_list.txt."""
    chosen: dict[str, tuple[str, str]] = {}
    for key, path in lists.items():
        role = list_role(key, path)
        for lineno, line in read_lines(path):
            where = f"{path}:{lineno}"
            if not YTID.match(line):
                raise ManifestError(
                    f"{where}: expected one YouTube id (11 characters of A-Z a-z 0-9 - _), got {line!r}"
                )
            if line in chosen:
                raise ManifestError(f"{where}: duplicate YouTube id {line!r} (first at {chosen[line][1]})")
            chosen[line] = (role, where)
    return chosen


def wanted_videos(clips: dict[str, Clip], labels: dict[str, Wanted] | None, subset: dict | None) -> list[Wanted]:
    """What the lists ask for: the subset when given, else every CSV row (b) or every file on disk (a)."""
    if subset is not None:
        known = labels or {}
        return [
            Wanted(ytid, role, known[ytid].label_name if ytid in known else None) for ytid, (role, _) in subset.items()
        ]
    if labels is not None:
        return [w for w in labels.values() if w.label_name]  # rows without a label cannot be trained on
    return [Wanted(ytid, clip.role, clip.label_name) for ytid, clip in clips.items()]


def _counts(items) -> dict[str, int]:
    return dict(sorted(Counter(items).items()))


def match_on_disk(wanted: list[Wanted], clips: dict[str, Clip]) -> tuple[list[dict], dict]:
    """Rows for the wanted videos found on disk, and the report of those that are not (or have no class)."""
    used, missing, unlabelled = [], [], []
    for want in wanted:
        clip = clips.get(want.ytid)
        if clip is None:
            missing.append(want)
            continue
        label_name = want.label_name or clip.label_name
        if label_name is None:
            unlabelled.append(want)
            continue
        used.append({"video_id": clip.video_id, "path": clip.path, "label_name": label_name, "split1": want.role})
    report = {
        "selected": len(wanted),
        "selected_by_role": _counts(w.role for w in wanted),
        "used": len(used),
        "used_by_role": _counts(r["split1"] for r in used),
        "missing": len(missing),
        "missing_by_role": _counts(w.role for w in missing),
        "missing_by_class": _counts(w.label_name for w in missing if w.label_name),
        "missing_class_unknown": sum(w.label_name is None for w in missing),
        "missing_examples": [w.ytid for w in missing[:SHOW_NAMES]],
        "unlabelled": len(unlabelled),
        "unlabelled_examples": [w.ytid for w in unlabelled[:SHOW_NAMES]],
    }
    return used, report


def as_paths(root: Path, value) -> list[Path]:
    """One path or a list of paths from the options; relative ones are under root."""
    return [root / v for v in ([value] if isinstance(value, str | Path) else value)]


def subset_paths(root: Path, value) -> dict[str, Path]:
    """subset_lists as {role key: path}; a plain list is keyed by file name (its role read from the name)."""
    if isinstance(value, dict):
        return {str(k): root / v for k, v in value.items()}
    return {p.name: p for p in as_paths(root, value)}


def read_kinetics(
    root: Path, split_dirs=None, csv_files=None, video_dir: str = ".", subset_lists=None
) -> tuple[pd.DataFrame, dict]:
    """The Kinetics videos on disk that the lists select, with roles in `split1`, and the selection report.

    Layout (a) when csv_files is None (split_dirs: folder -> role, or a list of folder names), else layout (b).
    """
    root = Path(root)
    video_root = root / video_dir
    if csv_files is None:
        split_dirs = split_dirs or DEFAULTS["split_dirs"]
        if not isinstance(split_dirs, dict):
            split_dirs = {name: name for name in split_dirs}
        split_dirs = {folder: LIST_ROLES.get(role, role) for folder, role in split_dirs.items()}
        clips, unrecognised = scan_folders(video_root, split_dirs)
        labels = None
    else:
        clips, unrecognised = scan_flat(video_root)
        seen: dict[str, str] = {}
        labels = {w.ytid: w for path in as_paths(root, csv_files) for w in read_kinetics_csv(path, seen)}
    subset = read_subset_lists(subset_paths(root, subset_lists)) if subset_lists else None
    rows, report = match_on_disk(wanted_videos(clips, labels, subset), clips)
    report = {
        "layout": "folders" if csv_files is None else "csv",
        "selected_from": "subset lists" if subset else ("csv" if labels is not None else "folders"),
        **report,
        "unrecognised_files": len(unrecognised),
        "unrecognised_examples": unrecognised[:SHOW_NAMES],
    }
    if report["missing"]:
        log.warning(
            "%d of %d selected Kinetics videos are not under %s (by role %s), e.g. %s",
            report["missing"],
            report["selected"],
            video_root,
            report["missing_by_role"],
            report["missing_examples"],
        )
    if unrecognised:
        log.warning(
            "%d video file(s) not named <youtube_id>_<start>_<end>, e.g. %s", len(unrecognised), unrecognised[:3]
        )
    if not rows:
        raise ManifestError(f"{video_root}: none of the {report['selected']} selected Kinetics videos is on disk")
    label_of = {name: i for i, name in enumerate(sorted({r["label_name"] for r in rows}))}
    for row in rows:
        row["label"] = label_of[row["label_name"]]
    return make_table(rows, ["split1"]), report


def adapt(root: Path, options: dict) -> tuple[pd.DataFrame, Path, dict]:
    """Adapter. Options: split_dirs ({train: train, val: test}; layout a), csv (path or list; selects
    layout b), video_dir ("." = root), subset_lists ({train: <path>, val: <path>} or a list of paths)."""
    opts = merge_options("kinetics", options, DEFAULTS)
    if opts["csv"] and "split_dirs" in (options or {}):
        raise ManifestError(
            "dataset kind 'kinetics': split_dirs (class-folder layout) and csv (flat layout) exclude each other"
        )
    table, selection = read_kinetics(
        Path(root), opts["split_dirs"], opts["csv"], opts["video_dir"], opts["subset_lists"]
    )
    report = {"kind": "kinetics", "n_classes": int(table["label"].nunique()), "roles": role_counts(table)}
    return table, Path(root) / opts["video_dir"], {**report, "selection": selection}
